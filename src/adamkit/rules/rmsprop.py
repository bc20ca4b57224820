r"""RMSprop (Hinton's lecture 6e), optionally centered and with momentum, as torch.optim.RMSprop.

For each step with gradient :math:`g_t` (negated when ``maximize``):

.. math::

    g_t &\leftarrow g_t + \lambda\theta_{t-1} \quad\text{(L2 weight decay)}\\
    v_t &= \alpha v_{t-1} + (1-\alpha) g_t^2 \\
    \bar g_t &= \alpha \bar g_{t-1} + (1-\alpha) g_t \quad\text{(centered only)}\\
    s_t &= \sqrt{v_t - \bar g_t^2} + \epsilon \text{ when centered, else } \sqrt{v_t} + \epsilon\\
    b_t &= \mu b_{t-1} + g_t / s_t,\quad \theta_t = \theta_{t-1} - \eta\, b_t
        \quad\text{(momentum } \mu > 0\text{)}\\
    \theta_t &= \theta_{t-1} - \eta\, g_t / s_t \quad\text{(no momentum)}

Dividing by the root of a running mean of squared gradients gives every coordinate a
step of about :math:`\eta`, whatever its gradient's scale. The centered form (Graves,
2013) divides by an estimate of the gradient's standard deviation instead. There is no
bias correction: :math:`v` starts at zero, so the first steps are large
(:math:`\eta/\sqrt{1-\alpha}`).

Keras's convention (``keras.optimizers.RMSprop``) differs in two places, each an option
(not a torch.optim argument, default False):

* ``eps_in_sqrt``: :math:`s_t = \sqrt{v_t - \bar g_t^2 + \epsilon}` (centered) or
  :math:`\sqrt{v_t + \epsilon}`: :math:`\epsilon` inside the root.
* ``lr_in_momentum``: the buffer accumulates steps, :math:`b_t = \mu b_{t-1} + \eta g_t/s_t`
  and :math:`\theta_t = \theta_{t-1} - b_t`. The same steps for a constant :math:`\eta`;
  when :math:`\eta` changes (a schedule), past contributions keep the rate of their time.

Example:
    >>> import numpy as np
    >>> from adamkit.rules.rmsprop import RMSPROP
    >>> hp = RMSPROP.hyper(lr=0.01, alpha=0.75)
    >>> p = np.array([1.0])
    >>> state = RMSPROP.init(p, hp)
    >>> p, state = RMSPROP.update(p, 2 * p, state, hp)   # gradient of p**2
    >>> round(float(p[0]), 6)   # moved by lr / sqrt(1 - alpha) = 0.02
    0.98
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
    lerp,
    namespace,
    nonneg,
    signed_grad,
)

PAPER = (
    "Hinton, Srivastava and Swersky, 'Neural Networks for Machine Learning', lecture 6e, 2012; "
    "centered: Graves, 'Generating Sequences With Recurrent Neural Networks', arXiv:1308.0850, 2013"
)


def init(param: Array, hp: Hyper) -> State:
    xp = namespace(param)
    state: State = {"step": 0.0, "square_avg": xp.zeros_like(param)}
    if hp["momentum"] > 0:
        state["momentum_buffer"] = xp.zeros_like(param)
    if hp["centered"]:
        state["grad_avg"] = xp.zeros_like(param)
    return state


def update(param: Array, grad: Array, state: State, hp: Hyper) -> tuple[Array, State]:
    xp = namespace(param)
    lr, alpha, eps, momentum = hp["lr"], hp["alpha"], hp["eps"], hp["momentum"]
    grad = signed_grad(grad, hp)
    param, grad = apply_weight_decay(param, grad, hp)

    square_avg = state["square_avg"] * alpha + (1 - alpha) * (grad * grad)
    new_state: State = {"step": state["step"] + 1, "square_avg": square_avg}
    mean_square = square_avg
    if hp["centered"]:
        grad_avg = lerp(state["grad_avg"], grad, 1 - alpha)
        new_state["grad_avg"] = grad_avg
        mean_square = square_avg - grad_avg * grad_avg
    avg = xp.sqrt(mean_square + eps) if hp.get("eps_in_sqrt", False) else xp.sqrt(mean_square) + eps

    if momentum > 0 and hp.get("lr_in_momentum", False):  # Keras: the buffer holds steps
        buffer = state["momentum_buffer"] * momentum + lr * (grad / avg)
        new_state["momentum_buffer"] = buffer
        return param - buffer, new_state
    if momentum > 0:
        buffer = state["momentum_buffer"] * momentum + grad / avg
        new_state["momentum_buffer"] = buffer
        return param - lr * buffer, new_state
    return param - lr * (grad / avg), new_state


RMSPROP = Rule(
    name="rmsprop",
    title="RMSprop",
    defaults={
        "lr": 1e-2,
        "alpha": 0.99,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum": 0.0,
        "centered": False,
        "maximize": False,
    },
    # torch's order and ranges (alpha is only required to be >= 0)
    checks=(LR, EPS, nonneg("momentum", "momentum value"), WEIGHT_DECAY, nonneg("alpha", "alpha value")),
    init=init,
    update=update,
    paper=PAPER,
)
