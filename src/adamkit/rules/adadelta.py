r"""Adadelta (Zeiler, 2012), as torch.optim.Adadelta.

For each step with gradient :math:`g_t` (negated when ``maximize``):

.. math::

    g_t &\leftarrow g_t + \lambda\theta_{t-1} \quad\text{(L2 weight decay)}\\
    v_t &= \rho v_{t-1} + (1-\rho) g_t^2 \\
    \Delta_t &= \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t \\
    u_t &= \rho u_{t-1} + (1-\rho) \Delta_t^2 \\
    \theta_t &= \theta_{t-1} - \eta\, \Delta_t

The ratio of the two running roots gives the step the parameter's own units (the
paper's "correct units" argument), so the paper has no learning rate; torch keeps one
(:math:`\eta`, default 1) as a plain multiplier. :math:`\epsilon` is inside the roots
and sets the size of the first steps (about :math:`\sqrt{\epsilon}`).

Example:
    >>> import numpy as np
    >>> from adamkit.rules.adadelta import ADADELTA
    >>> hp = ADADELTA.hyper(eps=1e-4)
    >>> p = np.array([1.0])
    >>> state = ADADELTA.init(p, hp)
    >>> p, state = ADADELTA.update(p, 2 * p, state, hp)   # gradient of p**2
    >>> round(float(p[0]), 4)   # a first step of about sqrt(eps / (1 - rho)) = 0.0316
    0.9684
"""

from __future__ import annotations

from .spec import (
    EPS,
    LR,
    WEIGHT_DECAY,
    Array,
    Hyper,
    Rule,
    State,
    apply_weight_decay,
    namespace,
    signed_grad,
    unit_closed,
)

PAPER = "Zeiler, 'ADADELTA: An Adaptive Learning Rate Method', arXiv:1212.5701, 2012"


def init(param: Array, hp: Hyper) -> State:
    xp = namespace(param)
    return {"step": 0.0, "square_avg": xp.zeros_like(param), "acc_delta": xp.zeros_like(param)}


def update(param: Array, grad: Array, state: State, hp: Hyper) -> tuple[Array, State]:
    xp = namespace(param)
    rho, eps = hp["rho"], hp["eps"]
    grad = signed_grad(grad, hp)
    param, grad = apply_weight_decay(param, grad, hp)

    square_avg = state["square_avg"] * rho + (1 - rho) * (grad * grad)
    std = xp.sqrt(square_avg + eps)
    delta = xp.sqrt(state["acc_delta"] + eps) / std * grad
    acc_delta = state["acc_delta"] * rho + (1 - rho) * (delta * delta)
    new_state: State = {"step": state["step"] + 1, "square_avg": square_avg, "acc_delta": acc_delta}
    return param - hp["lr"] * delta, new_state


ADADELTA = Rule(
    name="adadelta",
    title="Adadelta",
    defaults={"lr": 1.0, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.0, "maximize": False},
    checks=(LR, unit_closed("rho", what="rho value"), EPS, WEIGHT_DECAY),
    init=init,
    update=update,
    paper=PAPER,
)
