r"""Adafactor (Shazeer and Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory
Cost", ICML 2018), as ``torch.optim.Adafactor`` computes it (no first moment).

The second moment of an :math:`n \times m` matrix is kept *factored*: a row average
:math:`R` (:math:`n` values) and a column average :math:`C` (:math:`m` values) instead of
:math:`nm`, and rebuilt as their outer product over :math:`R`'s mean. Tensors of more than two
dimensions are factored over their last two; vectors keep a full second moment. For step
:math:`t` with gradient :math:`G` (negated when ``maximize``):

.. math::

    \hat\beta_{2,t} &= 1 - t^{c} \quad (c = \text{beta2\_decay} \le 0),\qquad
        \rho_t = \min(\eta, 1/\sqrt t),\qquad
        \alpha_t = \max(\epsilon_2, \mathrm{RMS}(\theta_{t-1}))\,\rho_t \\
    \theta_{t-1} &\leftarrow \theta_{t-1}(1 - \eta\lambda) \quad\text{(decoupled weight decay)}\\
    R_t &= \hat\beta_{2,t} R_{t-1} + (1-\hat\beta_{2,t})\,\mathrm{mean}_{\text{cols}}(G^2),\qquad
        C_t = \hat\beta_{2,t} C_{t-1} + (1-\hat\beta_{2,t})\,\mathrm{mean}_{\text{rows}}(G^2) \\
    \hat V_t &= R_t C_t / \max(\mathrm{mean}(R_t), \epsilon_1)\quad
        (\text{a vector: } \hat V_t = \hat\beta_{2,t} \hat V_{t-1} + (1-\hat\beta_{2,t}) G^2)\\
    U_t &= G / \sqrt{\max(\hat V_t, \epsilon_1^2)},\qquad
        \theta_t = \theta_{t-1} - \frac{\alpha_t}{\max(1, \mathrm{RMS}(U_t)/d)}\,U_t

The learning rate is *relative* (scaled by the parameter's RMS) and capped by :math:`1/\sqrt t`;
:math:`d` clips the update's RMS. ``eps = (eps1, eps2)``; ``eps1`` None means the parameter
dtype's machine epsilon.

Hyperparameters (torch.optim.Adafactor's): ``lr`` = 1e-2, ``beta2_decay`` = -0.8, ``eps`` =
(None, 1e-3), ``d`` = 1.0, ``weight_decay`` = 0, ``maximize`` = False. State keys (torch's):
``step`` and ``row_var`` / ``col_var`` (shapes with the last or second-to-last dimension 1) for
tensors of two or more dimensions, ``variance`` for vectors and scalars.
"""

from __future__ import annotations

import math
from typing import Any

from .spec import (
    LR,
    WEIGHT_DECAY,
    Array,
    Check,
    Hyper,
    Rule,
    State,
    is_number,
    lerp,
    minimum,
    namespace,
    sqrt,
)

PAPER = "Shazeer and Stern, 'Adafactor: Adaptive Learning Rates with Sublinear Memory Cost', ICML 2018"


def init(param: Array, hp: Hyper) -> State:
    xp = namespace(param)
    if param.ndim < 2:
        return {"step": 0.0, "variance": xp.zeros_like(param)}
    row_shape, col_shape = list(param.shape), list(param.shape)
    row_shape[-1] = col_shape[-2] = 1
    return {"step": 0.0, "row_var": zeros(param, row_shape), "col_var": zeros(param, col_shape)}


def zeros(like: Array, shape: list[int]) -> Array:
    """Zeros of ``shape`` with ``like``'s dtype (and device, for a tensor)."""
    if hasattr(like, "new_zeros"):
        return like.new_zeros(shape)
    return namespace(like).zeros(shape, dtype=like.dtype)


def rms(x: Array, on_host: bool = True) -> Any:
    """Root mean square of the whole tensor, as a Python number (0 for an empty tensor); with
    ``on_host`` False a 0-d tensor of a non-empty one (a traced Keras step reads nothing back)."""
    xp, n = namespace(x), math.prod(x.shape)
    if not on_host:
        return xp.sqrt(xp.sum(x * x)) / math.sqrt(n)
    return float(xp.sqrt((x * x).sum())) / math.sqrt(n) if n else 0.0


def at_least(floor: float, x: Any) -> Any:
    """``max(floor, x)`` of a number, or of a 0-d tensor (elementwise: no host read)."""
    return max(floor, x) if is_number(x) else namespace(x).where(x < floor, floor, x)


def machine_eps(x: Array) -> float:
    return float(namespace(x).finfo(x.dtype).eps)


def update(param: Array, grad: Array, state: State, hp: Hyper) -> tuple[Array, State]:
    xp = namespace(param)
    lr, decay, (eps1, eps2) = hp["lr"], hp["beta2_decay"], hp["eps"]
    d, wd = hp["d"], hp["weight_decay"]
    grad = -grad if hp["maximize"] else grad
    eps1 = machine_eps(param) if eps1 is None else eps1
    step = state["step"] + 1
    # The torch and NumPy front ends pass scalars as numbers and take the RMS on the host; Keras
    # passes 0-d tensors (a traced step), and the RMS and step sizes stay tensors there.
    on_host = is_number(step)
    lr = float(lr) if on_host else lr
    if math.prod(param.shape) == 0:  # nothing to factor (torch.optim divides by the size and fails)
        return param, {**state, "step": step}
    new_weight = step**decay  # 1 - beta2_t: the weight of the new square
    alpha = at_least(eps2, rms(param, on_host)) * minimum(lr, 1 / sqrt(step))
    if wd != 0:
        param = param * (1 - lr * wd)

    squared = grad * grad
    if grad.ndim > 1:
        row_var = lerp(state["row_var"], xp.mean(squared, axis=-1, keepdims=True), new_weight)
        col_var = lerp(state["col_var"], xp.mean(squared, axis=-2, keepdims=True), new_weight)
        row_mean = xp.mean(row_var, axis=-2, keepdims=True)
        variance = (row_var @ col_var) / xp.where(row_mean < eps1, eps1, row_mean)
        new_state: State = {"step": step, "row_var": row_var, "col_var": col_var}
    else:
        variance = lerp(state["variance"], squared, new_weight)
        new_state = {"step": step, "variance": variance}
    floor = eps1 * eps1
    direction = grad / xp.sqrt(xp.where(variance < floor, floor, variance))
    n = math.prod(direction.shape)
    clip = at_least(1.0, rms(direction, on_host) / d) if n else 1.0
    return param - (alpha / clip) * direction, new_state


def _check_eps(hp: Hyper) -> None:
    eps = hp.get("eps")
    if not isinstance(eps, tuple | list) or len(eps) != 2:
        raise ValueError(f"Invalid epsilon value (eps): {eps!r} (must be a pair (eps1 or None, eps2))")
    if eps[0] is not None:
        Check("eps", 0.0, index=0, what="epsilon1")(hp)
    Check("eps", 0.0, index=1, what="epsilon2")(hp)


ADAFACTOR = Rule(
    name="adafactor",
    title="Adafactor",
    defaults={"lr": 1e-2, "beta2_decay": -0.8, "eps": (None, 1e-3), "d": 1.0, "weight_decay": 0.0,
              "maximize": False},
    checks=(
        LR,
        Check("beta2_decay", high=0.0, what="beta2_decay"),
        Check("d", low=1.0, what="clipping threshold d"),
        WEIGHT_DECAY,
    ),
    init=init,
    update=update,
    paper=PAPER,
    extra_checks=(_check_eps,),
)
