r"""NAdam (Dozat, 2016): Adam with Nesterov momentum and a warming momentum schedule.

For each step :math:`t` with gradient :math:`g_t` (negated when ``maximize``), and
:math:`\psi` the ``momentum_decay``:

.. math::

    g_t &\leftarrow g_t + \lambda\theta_{t-1}
        \quad\text{(L2 weight decay, or } \theta_{t-1} \leftarrow
        \theta_{t-1}(1 - \eta\lambda) \text{ when decoupled)}\\
    \mu_t &= \beta_1\left(1 - \tfrac12\, 0.96^{t\psi}\right),\qquad
        \textstyle\prod_t = \prod_{i \le t} \mu_i \\
    m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\
    v_t &= \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
    d_t &= \sqrt{v_t / (1-\beta_2^t)} + \epsilon \\
    \theta_t &= \theta_{t-1}
        - \eta\,\frac{1-\mu_t}{1-\prod_t}\,\frac{g_t}{d_t}
        - \eta\,\frac{\mu_{t+1}}{1-\prod_t\mu_{t+1}}\,\frac{m_t}{d_t}

The two terms are the Nesterov look-ahead: the current gradient weighted by this
step's momentum, plus the momentum buffer weighted by the *next* step's. The
schedule :math:`\mu_t` starts near :math:`\beta_1/2` and rises to :math:`\beta_1`
(Dozat's "momentum warming"). State keys as torch.optim: ``step``, ``mu_product``
(:math:`\prod_t`, a scalar), ``exp_avg``, ``exp_avg_sq``. torch.optim keeps ``mu_product``
in its scalar dtype (float32 unless the default dtype is float64) and uses the rounded value:
so does this rule, where the engine hands it over as a float32 (``stored_precision``).

Hyperparameters (torch.optim.NAdam's names and defaults): ``lr`` = 2e-3,
``betas`` = (0.9, 0.999), ``eps`` = 1e-8, ``weight_decay`` = 0,
``momentum_decay`` = 4e-3 (:math:`\psi`, >= 0), ``decoupled_weight_decay`` = False
(NAdamW, Loshchilov and Hutter), ``maximize`` = False.

Example:
    >>> import numpy as np
    >>> from adamkit.rules.nadam import NADAM
    >>> hp = NADAM.hyper(lr=0.1)
    >>> p = np.array([1.0])
    >>> state = NADAM.init(p, hp)
    >>> p, state = NADAM.update(p, 2 * p, state, hp)   # gradient of p**2
    >>> round(float(p[0]), 4)   # lr from the gradient term, plus the look-ahead share of m_1
    0.8944
    >>> round(state["mu_product"], 6)   # mu_1 = 0.9 * (1 - 0.5 * 0.96**0.004)
    0.450073
"""

from __future__ import annotations

from typing import Any

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
    nonneg,
    one_minus_power,
    power,
    signed_grad,
    times_in_place,
)

PAPER = "Dozat, 'Incorporating Nesterov Momentum into Adam', ICLR 2016 Workshop"

MOMENTUM_DECAY = nonneg("momentum_decay", "momentum_decay value")


def momentum_at(step: float, hp: Hyper) -> float:
    """The warming momentum :math:`\\mu_t = \\beta_1(1 - 0.5 \\cdot 0.96^{t\\psi})`."""
    return hp["betas"][0] * (1.0 - 0.5 * power(0.96, step * hp["momentum_decay"]))


def momenta(step: Any, mu_product: Any, hp: Hyper) -> tuple[Any, Any, Any, Any]:
    r""":math:`\mu_t`, :math:`\mu_{t+1}`, :math:`\prod_t` and :math:`\prod_t\mu_{t+1}` at ``step``
    :math:`t`, from the stored product :math:`\prod_{t-1}` (``mu_product``).

    :math:`\prod_t` is updated as torch.optim updates its tensor in place, at the precision it is
    stored in (:func:`.spec.times_in_place`); the product one step ahead is never stored.
    """
    mu, mu_next = momentum_at(step, hp), momentum_at(step + 1, hp)
    mu_product = times_in_place(mu_product, mu)
    return mu, mu_next, mu_product, mu_product * mu_next


def init(param: Array, hp: Hyper) -> State:
    xp = namespace(param)
    return {
        "step": 0.0,
        "mu_product": 1.0,
        "exp_avg": xp.zeros_like(param),
        "exp_avg_sq": xp.zeros_like(param),
    }


def update(param: Array, grad: Array, state: State, hp: Hyper) -> tuple[Array, State]:
    xp = namespace(param)
    lr, (beta1, beta2), eps = hp["lr"], hp["betas"], hp["eps"]
    grad = signed_grad(grad, hp)
    param, grad = apply_weight_decay(param, grad, hp)

    step = state["step"] + 1
    mu, mu_next, mu_product, mu_product_next = momenta(step, state["mu_product"], hp)

    exp_avg = lerp(state["exp_avg"], grad, 1 - beta1)
    exp_avg_sq = state["exp_avg_sq"] * beta2 + (1 - beta2) * (grad * grad)
    denom = xp.sqrt(exp_avg_sq / one_minus_power(beta2, step)) + eps

    # Nesterov: this step's gradient, then the momentum buffer looked one step ahead
    param = param - (lr * (1 - mu) / (1 - mu_product)) * (grad / denom)
    param = param - (lr * mu_next / (1 - mu_product_next)) * (exp_avg / denom)
    new_state: State = {
        "step": step,
        "mu_product": mu_product,
        "exp_avg": exp_avg,
        "exp_avg_sq": exp_avg_sq,
    }
    return param, new_state


NADAM = Rule(
    name="nadam",
    title="NAdam",
    defaults={
        "lr": 2e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum_decay": 4e-3,
        "decoupled_weight_decay": False,
        "maximize": False,
    },
    checks=(LR, EPS, BETA1, BETA2, WEIGHT_DECAY, MOMENTUM_DECAY),
    init=init,
    update=update,
    scalar_state=("step", "mu_product"),
    stored_precision=("mu_product",),
    paper=PAPER,
)
