r"""Adagrad (Duchi, Hazan and Singer, 2011), as torch.optim.Adagrad.

For each step :math:`t` with gradient :math:`g_t` (negated when ``maximize``):

.. math::

    g_t &\leftarrow g_t + \lambda\theta_{t-1} \quad\text{(L2 weight decay)}\\
    \tilde\eta_t &= \frac{\eta}{1 + (t-1)\,\delta} \quad\text{(learning-rate decay } \delta)\\
    s_t &= s_{t-1} + g_t^2, \quad s_0 = \text{initial\_accumulator\_value}\\
    \theta_t &= \theta_{t-1} - \tilde\eta_t\, \frac{g_t}{\sqrt{s_t} + \epsilon}

The sum of squares only grows, so each coordinate's step shrinks as its gradients
accumulate: rare features keep large steps, frequent ones get small steps. A complex
parameter's accumulator starts at ``value + value*1j`` (both real parts), as in torch.

Keras's convention (``keras.optimizers.Adagrad``), selected by ``eps_in_sqrt=True`` (an
option, not a torch.optim argument, default False), puts :math:`\epsilon` inside the root:
:math:`\theta_t = \theta_{t-1} - \tilde\eta_t\, g_t / \sqrt{s_t + \epsilon}`.

Example:
    >>> import numpy as np
    >>> from adamkit.rules.adagrad import ADAGRAD
    >>> hp = ADAGRAD.hyper(lr=0.5)
    >>> p = np.array([1.0])
    >>> state = ADAGRAD.init(p, hp)
    >>> p, state = ADAGRAD.update(p, 2 * p, state, hp)   # gradient of p**2
    >>> round(float(p[0]), 6), float(state["sum"][0])   # the first step moves by lr
    (0.5, 4.0)
"""

from __future__ import annotations

import numpy as np

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
    nonneg,
    signed_grad,
)

PAPER = (
    "Duchi, Hazan and Singer, 'Adaptive Subgradient Methods for Online Learning and "
    "Stochastic Optimization', JMLR 2011"
)


def is_complex(x: Array) -> bool:
    xp = namespace(x)
    return bool(xp.is_complex(x)) if xp is not np else bool(np.iscomplexobj(x))


def init(param: Array, hp: Hyper) -> State:
    xp = namespace(param)
    start = hp["initial_accumulator_value"]
    if is_complex(param):  # the real and imaginary parts are updated as two reals
        start = complex(start, start)
    return {"step": 0.0, "sum": xp.full_like(param, start)}


def update(param: Array, grad: Array, state: State, hp: Hyper) -> tuple[Array, State]:
    xp = namespace(param)
    grad = signed_grad(grad, hp)
    param, grad = apply_weight_decay(param, grad, hp)

    step = state["step"] + 1
    decayed_lr = hp["lr"] / (1 + (step - 1) * hp["lr_decay"])
    total = state["sum"] + grad * grad
    std = xp.sqrt(total + hp["eps"]) if hp.get("eps_in_sqrt", False) else xp.sqrt(total) + hp["eps"]
    return param - decayed_lr * (grad / std), {"step": step, "sum": total}


ADAGRAD = Rule(
    name="adagrad",
    title="Adagrad",
    defaults={
        "lr": 1e-2,
        "lr_decay": 0.0,
        "weight_decay": 0.0,
        "initial_accumulator_value": 0.0,
        "eps": 1e-10,
        "maximize": False,
    },
    checks=(
        LR,
        nonneg("lr_decay", "lr_decay value"),
        WEIGHT_DECAY,
        nonneg("initial_accumulator_value", "initial_accumulator_value value"),
        EPS,
    ),
    init=init,
    update=update,
    paper=PAPER,
)
