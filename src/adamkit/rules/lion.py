r"""Lion (Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023).

A sign update: every coordinate moves by exactly the learning rate, in the direction of an
interpolation between the momentum and the gradient. One moment, no second moment, no epsilon.
For each step with gradient :math:`g_t` (negated when ``maximize``):

.. math::

    \theta_{t-1} &\leftarrow \theta_{t-1}(1 - \eta\lambda) \quad\text{(decoupled weight decay)}\\
    c_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\
    \theta_t &= \theta_{t-1} - \eta\,\operatorname{sign}(c_t) \\
    m_t &= \beta_2 m_{t-1} + (1-\beta_2) g_t

The update's size is fixed (``lr`` per coordinate), so Lion wants a learning rate 3-10x smaller
than AdamW's and a weight decay 3-10x larger (the paper's advice). ``cautious=True`` applies
:func:`~adamkit.rules.cautious.cautious` to the sign update.

Hyperparameters (the paper's and lion-pytorch's defaults): ``lr`` = 1e-4, ``betas`` =
(0.9, 0.99), ``weight_decay`` = 0 (decoupled), ``maximize`` = False, ``cautious`` = False.
State keys: ``step``, ``exp_avg`` (:math:`m`).

Example:
    >>> import numpy as np
    >>> from adamkit.rules.lion import LION
    >>> hp = LION.hyper(lr=0.1)
    >>> p = np.array([1.0, -2.0])
    >>> state = LION.init(p, hp)
    >>> p, state = LION.update(p, 2 * p, state, hp)   # gradient of sum(p**2)
    >>> p   # each coordinate moves by lr
    array([ 0.9, -1.9])
"""

from __future__ import annotations

from .cautious import cautious
from .spec import LR, WEIGHT_DECAY, Array, Hyper, Rule, State, namespace, signed_grad, unit_closed

PAPER = "Chen et al., 'Symbolic Discovery of Optimization Algorithms', NeurIPS 2023"


def init(param: Array, hp: Hyper) -> State:
    return {"step": 0.0, "exp_avg": namespace(param).zeros_like(param)}


def update(param: Array, grad: Array, state: State, hp: Hyper) -> tuple[Array, State]:
    xp = namespace(param)
    lr, (beta1, beta2), wd = hp["lr"], hp["betas"], hp["weight_decay"]
    grad = signed_grad(grad, hp)
    if wd != 0:
        param = param * (1 - lr * wd)
    exp_avg = state["exp_avg"]
    direction = xp.sign(exp_avg * beta1 + grad * (1 - beta1))
    if hp["cautious"]:
        direction = cautious(direction, grad)
    new_state: State = {"step": state["step"] + 1, "exp_avg": exp_avg * beta2 + grad * (1 - beta2)}
    return param - lr * direction, new_state


LION = Rule(
    name="lion",
    title="Lion",
    defaults={"lr": 1e-4, "betas": (0.9, 0.99), "weight_decay": 0.0, "maximize": False, "cautious": False},
    # beta2 = 1 (a frozen momentum) is allowed by the paper's update, as beta1 = 1 (pure momentum sign)
    checks=(LR, unit_closed("betas", 0, "beta parameter at index 0"),
            unit_closed("betas", 1, "beta parameter at index 1"), WEIGHT_DECAY),
    init=init,
    update=update,
    paper=PAPER,
)
