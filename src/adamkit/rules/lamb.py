r"""LAMB (You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes",
ICLR 2020), as ``optax.lamb`` computes it.

Adam's direction plus decoupled weight decay, rescaled per tensor so that its norm is the
parameter's: every layer moves by about ``lr`` times its own size, whatever its gradients' scale
(which lets BERT train with batches of 32k). For each step :math:`t` with gradient :math:`g_t`
(negated when ``maximize``):

.. math::

    m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t,\qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
    r_t &= \frac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon} + \lambda\theta_{t-1} \\
    \theta_t &= \theta_{t-1} - \eta\,\rho_t\, r_t,\qquad
    \rho_t = \frac{\lVert\theta_{t-1}\rVert}{\lVert r_t\rVert}
        \text{ (1 when either norm is zero)}

The trust ratio :math:`\rho_t` is a reduction over the whole tensor (each parameter tensor is
one "layer").

Hyperparameters (optax.lamb's defaults under torch's names): ``lr`` = 1e-3, ``betas`` =
(0.9, 0.999), ``eps`` = 1e-6, ``weight_decay`` = 0, ``maximize`` = False.
State keys: ``step``, ``exp_avg``, ``exp_avg_sq``.

Example:
    >>> import numpy as np
    >>> from adamkit.rules.lamb import LAMB
    >>> hp = LAMB.hyper(lr=0.1)
    >>> p = np.array([3.0, 4.0])
    >>> state = LAMB.init(p, hp)
    >>> new, state = LAMB.update(p, 2 * p, state, hp)   # gradient of sum(p**2)
    >>> round(float(np.linalg.norm(new - p)), 6)   # the step's length is lr * ||p|| = 0.1 * 5
    0.5
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
    lerp,
    namespace,
    one_minus_power,
    signed_grad,
    sqrt,
)

PAPER = "You et al., 'Large Batch Optimization for Deep Learning: Training BERT in 76 minutes', ICLR 2020"


def init(param: Array, hp: Hyper) -> State:
    xp = namespace(param)
    return {"step": 0.0, "exp_avg": xp.zeros_like(param), "exp_avg_sq": xp.zeros_like(param)}


def trust_ratio(param: Array, direction: Array) -> Array:
    """``||param|| / ||direction||``, or 1 where either norm is zero (a 0-dim array)."""
    xp = namespace(param)
    param_norm = xp.sqrt(xp.sum(param * param))
    direction_norm = xp.sqrt(xp.sum(direction * direction))
    zero = (param_norm == 0) | (direction_norm == 0)
    # the division never sees a zero (no warning, no NaN to mask)
    return xp.where(zero, 1.0, param_norm / xp.where(direction_norm == 0, 1.0, direction_norm))


def update(param: Array, grad: Array, state: State, hp: Hyper) -> tuple[Array, State]:
    xp = namespace(param)
    lr, (beta1, beta2), eps, wd = hp["lr"], hp["betas"], hp["eps"], hp["weight_decay"]
    grad = signed_grad(grad, hp)
    step = state["step"] + 1
    exp_avg = lerp(state["exp_avg"], grad, 1 - beta1)
    exp_avg_sq = state["exp_avg_sq"] * beta2 + (1 - beta2) * (grad * grad)
    bias_correction1, bias_correction2 = one_minus_power(beta1, step), one_minus_power(beta2, step)
    direction = (exp_avg / bias_correction1) / (xp.sqrt(exp_avg_sq) / sqrt(bias_correction2) + eps)
    if wd != 0:
        direction = direction + wd * param
    new_state: State = {"step": step, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
    return param - lr * (trust_ratio(param, direction) * direction), new_state


LAMB = Rule(
    name="lamb",
    title="LAMB",
    defaults={"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-6, "weight_decay": 0.0, "maximize": False},
    checks=(LR, EPS, BETA1, BETA2, WEIGHT_DECAY),
    init=init,
    update=update,
    paper=PAPER,
)
