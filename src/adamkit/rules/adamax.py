r"""Adamax (Kingma and Ba, 2015, Section 7.1): Adam with the infinity norm in place of :math:`v_t`.

For each step :math:`t` with gradient :math:`g_t` (negated when ``maximize``):

.. math::

    g_t &\leftarrow g_t + \lambda\theta_{t-1} \quad\text{(L2 weight decay)}\\
    m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\
    u_t &= \max(\beta_2 u_{t-1},\ |g_t| + \epsilon) \\
    \theta_t &= \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,\frac{m_t}{u_t}

The second moment becomes an exponentially weighted infinity norm :math:`u_t`, which
needs no bias correction. As in torch.optim, :math:`\epsilon` sits *inside* the maximum
(so :math:`u_t > 0` from the first step) rather than being added to the denominator.
State keys: ``step``, ``exp_avg`` (:math:`m`), ``exp_inf`` (:math:`u`).

Keras's convention (``keras.optimizers.Adamax``), selected by ``eps_after_max=True`` (an
option, not a torch.optim argument, default False), adds :math:`\epsilon` to the
denominator instead: :math:`u_t = \max(\beta_2 u_{t-1}, |g_t|)` and
:math:`\theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\frac{m_t}{u_t + \epsilon}`.

Hyperparameters (torch.optim.Adamax's names and defaults): ``lr`` = 2e-3,
``betas`` = (0.9, 0.999), ``eps`` = 1e-8, ``weight_decay`` = 0 (L2, added to the
gradient), ``maximize`` = False.

Example:
    >>> import numpy as np
    >>> from adamkit.rules.adamax import ADAMAX
    >>> hp = ADAMAX.hyper(lr=0.1)
    >>> p = np.array([1.0])
    >>> state = ADAMAX.init(p, hp)
    >>> p, state = ADAMAX.update(p, 2 * p, state, hp)   # gradient of p**2
    >>> round(float(p[0]), 6)   # the first step moves by lr (up to eps)
    0.9
    >>> float(state["exp_inf"][0])   # |g| + eps
    2.00000001
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
    lerp,
    namespace,
    one_minus_power,
    signed_grad,
)

PAPER = "Kingma and Ba, 'Adam: A Method for Stochastic Optimization', ICLR 2015, Section 7.1 (AdaMax)"


def init(param: Array, hp: Hyper) -> State:
    xp = namespace(param)
    return {"step": 0.0, "exp_avg": xp.zeros_like(param), "exp_inf": xp.zeros_like(param)}


def update(param: Array, grad: Array, state: State, hp: Hyper) -> tuple[Array, State]:
    xp = namespace(param)
    lr, (beta1, beta2), eps = hp["lr"], hp["betas"], hp["eps"]
    grad = signed_grad(grad, hp)
    param, grad = apply_weight_decay(param, grad, hp)

    step = state["step"] + 1
    exp_avg = lerp(state["exp_avg"], grad, 1 - beta1)
    if hp.get("eps_after_max", False):  # Keras: eps added to the denominator
        exp_inf = xp.maximum(state["exp_inf"] * beta2, xp.abs(grad))
        denom = exp_inf + eps
    else:  # torch: eps inside the maximum keeps the denominator positive even for a zero gradient
        exp_inf = xp.maximum(state["exp_inf"] * beta2, xp.abs(grad) + eps)
        denom = exp_inf

    step_size = lr / one_minus_power(beta1, step)  # only the first moment needs bias correction
    new_state: State = {"step": step, "exp_avg": exp_avg, "exp_inf": exp_inf}
    return param - step_size * (exp_avg / denom), new_state


ADAMAX = Rule(
    name="adamax",
    title="Adamax",
    defaults={
        "lr": 2e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "maximize": False,
    },
    checks=(LR, EPS, BETA1, BETA2, WEIGHT_DECAY),
    init=init,
    update=update,
    paper=PAPER,
)
