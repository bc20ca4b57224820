r"""SWATS (Keskar and Socher, 2017): start with Adam, switch to SGD with momentum once the
learning rate SGD would need has settled.

Each parameter tensor decides for itself. While in the Adam phase, step :math:`k` takes the
Adam step :math:`p_k` (:mod:`adamkit.rules.adam`, torch's convention, no AMSGrad) and
projects it on the gradient :math:`g_k` to ask which SGD learning rate would have moved as
far along :math:`g_k`:

.. math::

    p_k &= \text{Adam step}, \qquad \theta_k = \theta_{k-1} + p_k \\
    \gamma_k &= \frac{p_k^\top p_k}{-p_k^\top g_k} \quad(\text{only when } p_k^\top g_k \ne 0;
        \text{ otherwise } \lambda_k = \lambda_{k-1}) \\
    \lambda_k &= \beta_2 \lambda_{k-1} + (1-\beta_2)\gamma_k \\
    \text{switch when } & k > 1 \text{ and }
        \left|\frac{\lambda_k}{1-\beta_2^k} - \gamma_k\right| < \text{switch\_tol},
        \text{ with } \Lambda = \frac{\lambda_k}{1-\beta_2^k}.

From the next step on the tensor follows SGD with heavy-ball momentum at that rate, its
buffer starting from zero:

.. math::

    v_k = \beta_1 v_{k-1} + g_k, \qquad \theta_k = \theta_{k-1} - (1-\beta_1)\Lambda v_k,

which is ``torch.optim.SGD(lr=(1 - beta1) * Lambda, momentum=beta1)`` (the step is executed
by :mod:`adamkit.rules.sgd`). The :math:`(1-\beta_1)` makes the SGD step, averaged over the
buffer, as long as the projected Adam step: :math:`\Lambda` is a rate for the gradient
itself while the buffer sums :math:`1/(1-\beta_1)` gradients. If the group's ``lr`` changes
after the switch (a scheduler), the SGD rate follows it: :math:`\Lambda` is scaled by
``lr / lr_at_switch``.

Choices the paper leaves open, made here:

* ``switch_tol`` is absolute (in learning-rate units), as in the paper's criterion. The
  paper uses :math:`10^{-9}` (the same :math:`\epsilon` as Adam's), which a noisy
  :math:`\gamma_k` almost never meets; the default 1e-5 is the value public
  reimplementations settled on. ``switch_tol=0`` never switches (plain Adam).
* On smooth, nearly noiseless problems the first steps hardly change :math:`\gamma_k` and
  the criterion can fire at :math:`k = 2`; lower ``switch_tol`` there if Adam should run longer.
* A negative or zero estimate (the Adam step going uphill on average) is never adopted.
* A step whose projection is not finite (a NaN or inf gradient) leaves the estimate as it was,
  so one bad batch cannot freeze it as NaN for good.
* ``weight_decay`` is L2 (added to the gradient) in both phases; ``maximize`` negates it.

State (per tensor; torch.optim's names where torch has them): ``step`` (:math:`k`, counts
both phases), ``exp_avg``, ``exp_avg_sq`` (Adam's moments, frozen after the switch),
``momentum_buffer`` (:math:`v`, zero until the switch), and the scalars ``lr_estimate``
(:math:`\lambda_k`, not bias-corrected), ``switched`` (0 or 1), ``switch_step`` (the
:math:`k` of the switch, 0 before), ``sgd_lr`` (:math:`\Lambda`, 0 before) and
``lr_at_switch`` (the group's lr when it switched).

Paper: N. S. Keskar and R. Socher, "Improving Generalization Performance by Switching from
Adam to SGD", arXiv:1712.07628, 2017 (Algorithm 1).

Example:
    >>> import numpy as np
    >>> from adamkit.rules.swats import SWATS
    >>> hp = SWATS.hyper(lr=0.01)
    >>> p = np.array([3.0, -1.0])
    >>> state = SWATS.init(p, hp)
    >>> for _ in range(100):
    ...     p, state = SWATS.update(p, 2 * p, state, hp)   # gradient of sum(p**2)
    >>> state["switched"], state["switch_step"], round(state["sgd_lr"], 5)
    (1.0, 2.0, 0.00251)

    (a smooth, noiseless problem: the criterion fires at once, see the choices above).
"""

from __future__ import annotations

import math

import numpy as np

from .adam import ADAM
from .sgd import SGD
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
    is_number,
    namespace,
    nonneg,
    one_minus_power,
    signed_grad,
    to_float,
)

PAPER = (
    "Keskar and Socher, 'Improving Generalization Performance by Switching from Adam to SGD', "
    "arXiv:1712.07628, 2017"
)

ADAM_KEYS = ("step", "exp_avg", "exp_avg_sq")
SCALARS = ("step", "lr_estimate", "switched", "switch_step", "sgd_lr", "lr_at_switch")


def phase_hyper(hp: Hyper) -> dict:
    """Adam's hyperparameters for the first phase: the gradient arrives already signed and decayed."""
    return {**ADAM.defaults, "lr": hp["lr"], "betas": hp["betas"], "eps": hp["eps"]}


def init(param: Array, hp: Hyper) -> State:
    xp = namespace(param)
    state = ADAM.init(param, phase_hyper(hp))
    state["momentum_buffer"] = xp.zeros_like(param)
    state.update(lr_estimate=0.0, switched=0.0, switch_step=0.0, sgd_lr=0.0, lr_at_switch=0.0)
    return state


def update(param: Array, grad: Array, state: State, hp: Hyper) -> tuple[Array, State]:
    grad = signed_grad(grad, hp)
    param, grad = apply_weight_decay(param, grad, hp)
    return choose(
        state["switched"] != 0,
        lambda: sgd_phase(param, grad, state, hp),
        lambda: adam_phase(param, grad, state, hp),
    )


def sgd_hyper(hp: Hyper, state: State) -> dict:
    """SGD's hyperparameters for the second phase (the gradient arrives already signed and decayed).

    A function of its own so that the fused engine (:mod:`adamkit.torch.kernels.swats`) feeds
    its SGD kernel the very rate the rule computes, rounded the same way.
    """
    beta1 = hp["betas"][0]
    follow_lr = hp["lr"] / state["lr_at_switch"]  # exactly 1.0 unless a scheduler moved lr
    return {**SGD.defaults, "lr": (1 - beta1) * state["sgd_lr"] * follow_lr, "momentum": beta1}


def sgd_phase(param: Array, grad: Array, state: State, hp: Hyper) -> tuple[Array, State]:
    sgd_hp = sgd_hyper(hp, state)
    new_param, sgd_state = SGD.update(param, grad, {"momentum_buffer": state["momentum_buffer"]}, sgd_hp)
    return new_param, {**state, "step": state["step"] + 1, **sgd_state}


def adam_phase(param: Array, grad: Array, state: State, hp: Hyper) -> tuple[Array, State]:
    adam_state = {key: state[key] for key in ADAM_KEYS}
    new_param, adam_state = ADAM.update(param, grad, adam_state, phase_hyper(hp))
    xp = namespace(param)
    p = new_param - param  # the step Adam took, as applied
    step_sq, step_dot_grad = xp.sum(p * p), xp.sum(p * grad)
    if is_number(state["lr_estimate"]):  # host scalars: the decision is taken in Python
        step_sq, step_dot_grad = to_float(step_sq), to_float(step_dot_grad)
    scalars, switched = after_adam_step(adam_state["step"], step_sq, step_dot_grad, state, hp)
    new_state = {**state, **adam_state, **scalars}
    new_state["momentum_buffer"] = choose(  # SGD starts fresh
        switched, lambda: xp.zeros_like(param), lambda: state["momentum_buffer"]
    )
    return new_param, new_state


def after_adam_step(
    k: float, step_sq: float, step_dot_grad: float, state: State, hp: Hyper
) -> tuple[State, bool]:
    r"""The scalar bookkeeping of Adam step ``k``: the rate estimate and the switch decision.

    ``step_sq`` is :math:`p_k^\top p_k` and ``step_dot_grad`` is :math:`p_k^\top g_k`, for the
    step :math:`p_k` as applied (new parameter minus old) and the signed, decayed gradient.
    Only these two sums of the tensor matter, so the decision is a pure function of scalars:
    the rule (:func:`adam_phase`) and the fused engine, whose kernel returns the two sums
    (:mod:`adamkit.torch.kernels.swats`), both call it and cannot drift apart.

    Returns the scalar state entries that change (a subset of ``lr_estimate``, ``switched``,
    ``switch_step``, ``sgd_lr``, ``lr_at_switch``) and whether the tensor switches to SGD now,
    in which case the caller zeroes its momentum buffer. ``state`` holds the scalars before
    the step and ``k`` is the new step count: Python floats (the decision is an ``if``), or
    backend tensors under Keras (every branch a :func:`~adamkit.rules.spec.choose`, and every
    entry returned: a traced step cannot leave some out by value).
    """
    beta2, lr = hp["betas"][1], hp["lr"]
    learned = step_dot_grad != 0
    if is_host(learned) and not learned:  # no projection to learn from (zero gradient or zero step)
        return {}, False
    zero = 0.0 if is_host(learned) else namespace(step_sq).zeros_like(step_sq)
    gamma = choose(learned, lambda: step_sq / -step_dot_grad, lambda: zero)
    previous = state["lr_estimate"]
    if is_host(learned):
        if not math.isfinite(gamma):  # a NaN or inf step: averaged in, it would stay in the estimate for good
            return {}, False
        if not math.isfinite(previous):  # poisoned by an older version: the average starts again
            previous = 0.0
    else:  # the same two guards as wheres (Keras's traced steps)
        xp = namespace(gamma)
        learned = learned & xp.isfinite(gamma)
        previous = choose(xp.isfinite(previous), lambda: previous, lambda: xp.zeros_like(previous))
    lr_estimate = choose(learned, lambda: beta2 * previous + (1 - beta2) * gamma, lambda: previous)
    unbiased = lr_estimate / one_minus_power(beta2, k)
    if is_host(learned):  # decided on the host, by values (tensor lr or betas: differentiable=True)
        close = abs(to_float(unbiased) - to_float(gamma)) < hp["switch_tol"]
        switch = k > 1 and to_float(unbiased) > 0 and to_float(lr) > 0 and close
    else:
        switch = learned & (k > 1) & (unbiased > 0) & (lr > 0) & (abs(unbiased - gamma) < hp["switch_tol"])
    at_switch = {"switched": 1.0, "switch_step": k, "sgd_lr": unbiased, "lr_at_switch": lr}
    if is_host(switch):
        return ({"lr_estimate": lr_estimate, **at_switch} if switch else {"lr_estimate": lr_estimate}), switch
    kept = {key: state[key] for key in at_switch}
    return {"lr_estimate": lr_estimate, **choose(switch, lambda: at_switch, lambda: kept)}, switch


def is_host(flag: object) -> bool:
    """Whether a condition is a Python (or NumPy) bool, decided on the host."""
    return isinstance(flag, bool | np.bool_)


SWATS = Rule(
    name="swats",
    title="SWATS",
    defaults={
        "lr": 1e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "switch_tol": 1e-5,
        "maximize": False,
    },
    checks=(LR, EPS, BETA1, BETA2, WEIGHT_DECAY, nonneg("switch_tol", "switch tolerance")),
    init=init,
    update=update,
    scalar_state=SCALARS,
    paper=PAPER,
)
