r"""Stochastic gradient descent with heavy-ball or Nesterov momentum, as torch.optim.SGD.

For each step with gradient :math:`g_t` (negated when ``maximize``):

.. math::

    g_t &\leftarrow g_t + \lambda\theta_{t-1} \quad\text{(L2 weight decay)}\\
    b_t &= \begin{cases} g_t & \text{first step (undamped)}\\
        \mu b_{t-1} + (1-\tau) g_t & \text{later steps}\end{cases}\\
    d_t &= g_t + \mu b_t \text{ with Nesterov, else } b_t
        \quad(\text{and } d_t = g_t \text{ when } \mu = 0)\\
    \theta_t &= \theta_{t-1} - \eta\, d_t

The momentum buffer :math:`b` absorbs the learning rate nowhere: it is torch's form, not
Sutskever et al.'s (:math:`v \leftarrow \mu v + \eta g`); the two agree for a constant
:math:`\eta`. Like torch, the buffer starts as the first gradient itself (so the first step
is never damped) and exists only when :math:`\mu \ne 0`; there is no ``step`` counter.

``lr_in_momentum=True`` (an option, not a torch.optim argument, default False) selects
Sutskever et al.'s form, which ``keras.optimizers.SGD`` computes: the buffer starts at zero
and accumulates steps, :math:`b_t = \mu b_{t-1} + (1-\tau)\eta g_t`,
:math:`\theta_t = \theta_{t-1} - b_t` (Nesterov: :math:`\theta_{t-1} - \mu b_t - \eta g_t`).
When :math:`\eta` changes (a schedule), past contributions keep the rate of their time.

Example:
    >>> import numpy as np
    >>> from adamkit.rules.sgd import SGD
    >>> hp = SGD.hyper(lr=0.1, momentum=0.9)
    >>> p = np.array([1.0])
    >>> state = SGD.init(p, hp)          # empty: the buffer is born on the first step
    >>> p, state = SGD.update(p, 2 * p, state, hp)   # gradient of p**2
    >>> float(p[0]), float(state["momentum_buffer"][0])
    (0.8, 2.0)
"""

from __future__ import annotations

from .spec import (
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
    "Robbins and Monro, 'A Stochastic Approximation Method', Ann. Math. Statist. 1951; "
    "momentum: Polyak, 'Some methods of speeding up the convergence of iteration methods', 1964; "
    "Nesterov momentum: Sutskever, Martens, Dahl and Hinton, 'On the importance of initialization "
    "and momentum in deep learning', ICML 2013"
)


def copy(x: Array) -> Array:
    """A fresh array equal to ``x`` (the buffer must not alias the caller's gradient)."""
    return x.clone() if hasattr(x, "clone") else x.copy()


def init(param: Array, hp: Hyper) -> State:
    # torch stores nothing before the first step: the buffer is the first gradient.
    if hp.get("lr_in_momentum", False) and hp["momentum"] != 0:
        return {"momentum_buffer": namespace(param).zeros_like(param)}
    return {}


def update(param: Array, grad: Array, state: State, hp: Hyper) -> tuple[Array, State]:
    lr, momentum = hp["lr"], hp["momentum"]
    grad = signed_grad(grad, hp)
    param, grad = apply_weight_decay(param, grad, hp)
    if momentum == 0:
        return param - lr * grad, {}

    if hp.get("lr_in_momentum", False):  # Keras: the buffer holds steps, each at the rate of its time
        buffer = state["momentum_buffer"] * momentum + ((1 - hp["dampening"]) * lr) * grad
        step = momentum * buffer + lr * grad if hp["nesterov"] else buffer
        return param - step, {"momentum_buffer": buffer}

    previous = state.get("momentum_buffer")
    if previous is None:
        buffer = copy(grad)
    else:
        buffer = previous * momentum + (1 - hp["dampening"]) * grad
    direction = grad + momentum * buffer if hp["nesterov"] else buffer
    return param - lr * direction, {"momentum_buffer": buffer}


def check_nesterov(hp: Hyper) -> None:
    """Nesterov's look-ahead needs a momentum to look ahead with, undamped."""
    if hp.get("nesterov", False) and (hp["momentum"] <= 0 or hp["dampening"] != 0):
        raise ValueError(
            f"Invalid nesterov (nesterov): True with momentum={hp['momentum']}, "
            f"dampening={hp['dampening']} (Nesterov momentum requires momentum > 0 and dampening == 0)"
        )


SGD = Rule(
    name="sgd",
    title="SGD",
    defaults={
        "lr": 1e-3,
        "momentum": 0.0,
        "dampening": 0.0,
        "weight_decay": 0.0,
        "nesterov": False,
        "maximize": False,
    },
    checks=(LR, nonneg("momentum", "momentum value"), WEIGHT_DECAY),
    init=init,
    update=update,
    scalar_state=(),
    paper=PAPER,
    extra_checks=(check_nesterov,),
)
