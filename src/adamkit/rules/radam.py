r"""RAdam (Liu et al., 2020): Adam whose adaptive step is switched on once its variance is bounded.

For each step :math:`t` with gradient :math:`g_t` (negated when ``maximize``):

.. math::

    g_t &\leftarrow g_t + \lambda\theta_{t-1}
        \quad\text{(L2 weight decay, or } \theta_{t-1} \leftarrow
        \theta_{t-1}(1 - \eta\lambda) \text{ when decoupled)}\\
    m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t,\qquad
    v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
    \rho_\infty &= \frac{2}{1-\beta_2} - 1,\qquad
    \rho_t = \rho_\infty - \frac{2t\beta_2^t}{1-\beta_2^t} \\
    \theta_t &= \theta_{t-1} - \eta\,\frac{m_t}{1-\beta_1^t}\cdot
    \begin{cases}
        r_t\,\dfrac{\sqrt{1-\beta_2^t}}{\sqrt{v_t} + \epsilon}
            & \rho_t > 5 \\
        1 & \text{otherwise (SGD with momentum)}
    \end{cases}\\
    r_t &= \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}

:math:`\rho_t` is the length of the simple moving average that the exponential one
approximates. While it is short (the first steps; with the default :math:`\beta_2` the
first five) the variance of the adaptive rate is unbounded, so RAdam takes a plain
momentum step; afterwards :math:`r_t` rectifies that variance. This replaces a
warmup schedule. State keys as torch.optim: ``step``, ``exp_avg``, ``exp_avg_sq``.

Hyperparameters (torch.optim.RAdam's names and defaults): ``lr`` = 1e-3,
``betas`` = (0.9, 0.999), ``eps`` = 1e-8, ``weight_decay`` = 0,
``decoupled_weight_decay`` = False (RAdamW), ``maximize`` = False.

Example:
    >>> import numpy as np
    >>> from adamkit.rules.radam import RADAM
    >>> hp = RADAM.hyper(lr=0.1)
    >>> p = np.array([1.0])
    >>> state = RADAM.init(p, hp)
    >>> p, state = RADAM.update(p, 2 * p, state, hp)   # gradient of p**2
    >>> round(float(p[0]), 6)   # rho_1 = 1 <= 5: a momentum step, lr * m_1 / (1 - beta1)
    0.8
"""

from __future__ import annotations

from .spec import (
    BETA1,
    BETA2,
    EPS,
    LR,
    WEIGHT_DECAY,
    Array,
    Hyper,
    Rule,
    State,
    apply_weight_decay,
    choose,
    lerp,
    namespace,
    one_minus_power,
    power,
    signed_grad,
    sqrt,
)

PAPER = "Liu et al., 'On the Variance of the Adaptive Learning Rate and Beyond', ICLR 2020"

#: The adaptive step is used once the approximated SMA is longer than this (the paper's threshold).
RHO_THRESHOLD = 5.0


def sma_lengths(step: float, beta2: float) -> tuple[float, float]:
    """:math:`(\\rho_\\infty, \\rho_t)`: the longest and the current approximated SMA length."""
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * power(beta2, step) / one_minus_power(beta2, step)
    return rho_inf, rho_t


def rectification(rho_inf: float, rho_t: float) -> float:
    """:math:`r_t`, which scales the adaptive rate so that its variance matches the limit's."""
    return sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))


def init(param: Array, hp: Hyper) -> State:
    xp = namespace(param)
    return {"step": 0.0, "exp_avg": xp.zeros_like(param), "exp_avg_sq": xp.zeros_like(param)}


def update(param: Array, grad: Array, state: State, hp: Hyper) -> tuple[Array, State]:
    xp = namespace(param)
    lr, (beta1, beta2), eps = hp["lr"], hp["betas"], hp["eps"]
    grad = signed_grad(grad, hp)
    param, grad = apply_weight_decay(param, grad, hp)

    step = state["step"] + 1
    exp_avg = lerp(state["exp_avg"], grad, 1 - beta1)
    exp_avg_sq = state["exp_avg_sq"] * beta2 + (1 - beta2) * (grad * grad)
    new_state: State = {"step": step, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}

    momentum_step = exp_avg / one_minus_power(beta1, step) * lr
    rho_inf, rho_t = sma_lengths(step, beta2)

    def rectified() -> Array:
        adaptive_lr = sqrt(one_minus_power(beta2, step)) / (xp.sqrt(exp_avg_sq) + eps)
        return param - momentum_step * adaptive_lr * rectification(rho_inf, rho_t)

    # While the variance of the adaptive rate is unbounded (rho_t <= 5): SGD with momentum.
    # (With a tensor step both are computed; the rectification is NaN below rho_t = 4, unused.)
    return choose(rho_t <= RHO_THRESHOLD, lambda: param - momentum_step, rectified), new_state


RADAM = Rule(
    name="radam",
    title="RAdam",
    defaults={
        "lr": 1e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "decoupled_weight_decay": False,
        "maximize": False,
    },
    checks=(LR, EPS, BETA1, BETA2, WEIGHT_DECAY),
    init=init,
    update=update,
    paper=PAPER,
)
