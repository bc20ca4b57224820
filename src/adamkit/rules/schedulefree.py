r"""Schedule-Free AdamW (Defazio, Yang, Mehta, Mishchenko, Khaled and Cutkosky, "The Road Less
Scheduled", NeurIPS 2024; the AlgoPerf 2024 self-tuning winner).

No learning-rate schedule and no stopping time to choose: the iterate that is evaluated,
:math:`x`, is a running average of the iterates :math:`z` that take the AdamW-normalised gradient
steps, and the gradient is taken at an interpolation :math:`y` between the two. The parameters
hold :math:`y` while training and :math:`x` while evaluating (``train()`` / ``eval()`` on the
optimizer move them). For step :math:`k` (from 0) with gradient :math:`g` taken at :math:`y`:

.. math::

    \eta_k &= \eta \cdot \min(1, (k+1)/\text{warmup\_steps}),\qquad
        \eta_{\max} = \max_{i \le k} \eta_i \\
    w_k &= (k+1)^r\,\eta_{\max}^{p},\qquad c_{k+1} = w_k \Big/ \textstyle\sum_{i\le k} w_i \\
    v &= \beta_2 v + (1-\beta_2) g^2,\qquad
        \hat g = g / \left(\sqrt{v/(1-\beta_2^{k+1})} + \epsilon\right) + \lambda y \\
    y &\leftarrow (1 - c_{k+1})\,y + c_{k+1} z + \eta_k(\beta_1(1 - c_{k+1}) - 1)\,\hat g \\
    z &\leftarrow z - \eta_k \hat g

(the second line of :math:`y` is :math:`x` and :math:`z` moved and re-interpolated in one
expression, as the authors' code does: :math:`x` is never stored). :math:`p` is
``weight_lr_power``; the weight decay is applied at :math:`y`. ``eval()`` sets the parameters to
:math:`x = y + (1 - 1/\beta_1)(z - y)`, ``train()`` back to :math:`y = x + (1-\beta_1)(z - x)`.

Hyperparameters (the ``schedulefree`` package's ``AdamWScheduleFree``): ``lr`` = 0.0025,
``betas`` = (0.9, 0.999), ``eps`` = 1e-8, ``weight_decay`` = 0, ``warmup_steps`` = 0, ``r`` = 0,
``weight_lr_power`` = 2. State keys: ``z``, ``exp_avg_sq`` (as that package) and the step
counter and averaging sums ``step``, ``weight_sum``, ``lr_max``, kept per parameter (that package
keeps them per param group: the same numbers when every parameter gets a gradient every step).
"""

from __future__ import annotations

from typing import Any

from .spec import (
    BETA2,
    EPS,
    LR,
    WEIGHT_DECAY,
    Array,
    Hyper,
    Rule,
    State,
    choose,
    is_number,
    lerp,
    namespace,
    nonneg,
    unit_open,
)

PAPER = "Defazio et al., 'The Road Less Scheduled', NeurIPS 2024"


def init(param: Array, hp: Hyper) -> State:
    return {
        "step": 0.0,
        "weight_sum": 0.0,
        "lr_max": -1.0,
        "z": param * 1.0,  # a copy (keeps -0.0)
        "exp_avg_sq": namespace(param).zeros_like(param),
    }


def schedule(state: State, hp: Hyper) -> tuple[Any, Any, Any, Any]:
    r"""The step's numbers, the same for every element: ``(lr, lr_max, weight_sum, average)``,
    the warmed-up rate :math:`\eta_k`, the largest rate so far, the sum of the average's weights and
    :math:`c_{k+1}`, the new iterate's share of :math:`x` (the fused kernels take them from here)."""
    k, warmup = state["step"], hp["warmup_steps"]
    # numbers for the torch and NumPy front ends; 0-d tensors in a traced Keras step, where each
    # ``choose`` is a ``where`` (both sides computed, the other one may be inf: never differentiated)
    lr = float(hp["lr"]) if is_number(k) else hp["lr"]
    lr = lr * choose(k < warmup, lambda: (k + 1) / warmup, lambda: 1.0)
    lr_max = choose(state["lr_max"] > lr, lambda: state["lr_max"], lambda: lr)
    weight = (k + 1) ** hp["r"] * lr_max ** hp["weight_lr_power"]
    weight_sum = state["weight_sum"] + weight
    average = choose(weight_sum != 0, lambda: weight / weight_sum, lambda: 0.0)
    return lr, lr_max, weight_sum, average


def update(param: Array, grad: Array, state: State, hp: Hyper) -> tuple[Array, State]:
    xp = namespace(param)
    (beta1, beta2), eps, wd = hp["betas"], hp["eps"], hp["weight_decay"]
    k = state["step"]
    lr, lr_max, weight_sum, average = schedule(state, hp)

    exp_avg_sq = state["exp_avg_sq"] * beta2 + (1 - beta2) * (grad * grad)
    normalised = grad / (xp.sqrt(exp_avg_sq / (1 - beta2 ** (k + 1))) + eps)
    if wd != 0:
        normalised = normalised + wd * param  # decay at y
    z = state["z"]
    new_param = lerp(param, z, average) + (lr * (beta1 * (1 - average) - 1)) * normalised
    new_state: State = {
        "step": k + 1,
        "weight_sum": weight_sum,
        "lr_max": lr_max,
        "z": z - lr * normalised,
        "exp_avg_sq": exp_avg_sq,
    }
    return new_param, new_state


def to_eval(param: Array, z: Array, beta1: float) -> Array:
    """The parameters for evaluation, :math:`x`, from the training point :math:`y`."""
    return lerp(param, z, 1 - 1 / beta1)


def to_train(param: Array, z: Array, beta1: float) -> Array:
    """The training point :math:`y` from the evaluation parameters :math:`x`."""
    return lerp(param, z, 1 - beta1)


def _check_beta1(hp: Hyper) -> None:
    beta1 = hp["betas"][0]
    if not 0 < float(beta1) < 1:  # eval() divides by beta1
        raise ValueError(f"Invalid beta parameter at index 0: {beta1} (must be in (0, 1))")


SCHEDULE_FREE_ADAMW = Rule(
    name="schedulefree_adamw",
    title="ScheduleFreeAdamW",
    defaults={
        "lr": 0.0025,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "warmup_steps": 0,
        "r": 0.0,
        "weight_lr_power": 2.0,
    },
    checks=(LR, unit_open("betas", 0, "beta parameter at index 0"), BETA2, EPS, WEIGHT_DECAY,
            nonneg("warmup_steps", "warmup_steps value"), nonneg("r", "r value"),
            nonneg("weight_lr_power", "weight_lr_power value")),
    init=init,
    update=update,
    # the averaging sums stay Python floats (float64), as in schedulefree: stored as float32 tensors
    # (torch's scalar dtype under a float32 default) the average's weights would drift by 1e-8
    scalar_state=("step",),
    paper=PAPER,
    extra_checks=(_check_beta1,),
)

__all__ = ["SCHEDULE_FREE_ADAMW", "schedule", "to_eval", "to_train"]
