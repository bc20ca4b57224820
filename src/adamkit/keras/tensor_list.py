"""A list of torch tensors that a rule computes on as if it were one array: every variable in one pass.

The rules are written for one array (:mod:`adamkit.rules`). Run eagerly on the torch backend,
one variable at a time, a step of a small model is mostly Python: each variable repeats the
same dozen 0-d tensor operations (step, bias corrections, step size) and a dozen dispatches.
:class:`TensorList` lets one call of the rule's ``update`` do every variable: its arithmetic is
torch's multi-tensor ``torch._foreach_*`` operations, which on the CPU run, tensor by tensor,
the same kernels the single tensors would (so every bit is the one the per-variable step
computes), and the rule's array-module calls (``xp.sqrt``, ``xp.maximum``, ``xp.where``) reach
it through NumPy's dispatch protocols (``__array_ufunc__``, ``__array_function__``: a
:class:`TensorList` is not a torch tensor, so :func:`adamkit.rules.spec.namespace` hands the
rule NumPy, which defers to the list).

An operation the list does not know raises ``TypeError``; the optimizers that take this path
are those whose rule is covered by the tests (``RuleOptimizer.multi_tensor``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

Operand = Any  # a TensorList, a Python number or a torch tensor (0-d: the learning rate)

#: NumPy ufunc name -> (the operation on one tensor, torch's multi-tensor operation or None).
UFUNCS: dict[str, tuple[Callable[..., Any], Callable[..., Any] | None]] = {
    "add": (operator.add, torch._foreach_add),
    "subtract": (operator.sub, torch._foreach_sub),
    "multiply": (operator.mul, torch._foreach_mul),
    "divide": (operator.truediv, torch._foreach_div),
    "negative": (operator.neg, torch._foreach_neg),
    "sqrt": (torch.sqrt, torch._foreach_sqrt),
    "exp": (torch.exp, torch._foreach_exp),
    "expm1": (torch.expm1, torch._foreach_expm1),
    "log": (torch.log, torch._foreach_log),
    "absolute": (torch.abs, torch._foreach_abs),
    "sign": (torch.sign, torch._foreach_sign),
    "maximum": (torch.maximum, torch._foreach_maximum),
    "minimum": (torch.minimum, torch._foreach_minimum),
    "power": (operator.pow, None),
    "less": (operator.lt, None),
    "less_equal": (operator.le, None),
    "greater": (operator.gt, None),
    "greater_equal": (operator.ge, None),
}

#: Operations whose operands may swap (IEEE addition and multiplication are commutative).
COMMUTATIVE = {"add", "multiply", "maximum", "minimum"}


class TensorList:
    """Torch tensors (one per variable) that arithmetic and NumPy's functions treat as one array.

    Operations never change their operands: each returns a new list (or, for ``x * 1`` and
    ``x / 1``, which are exact, ``x`` itself).

    Example:
        >>> import torch
        >>> from adamkit.rules.adam import ADAM
        >>> hp = ADAM.hyper(lr=0.1)
        >>> params = TensorList([torch.ones(2), torch.ones(3)])
        >>> state = {"step": TensorList([torch.tensor(0.0)] * 2),
        ...          "exp_avg": params * 0.0, "exp_avg_sq": params * 0.0}
        >>> new, state = ADAM.update(params, params * 2.0, state, hp)
        >>> [round(float(t[0]), 6) for t in new.tensors]
        [0.9, 0.9]
    """

    __slots__ = ("tensors",)

    def __init__(self, tensors: Sequence[torch.Tensor]) -> None:
        self.tensors = list(tensors)

    def __len__(self) -> int:
        return len(self.tensors)

    # ------------------------------------------------------------------ NumPy's protocols

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method != "__call__" or kwargs or ufunc.__name__ not in UFUNCS:
            return NotImplemented
        return apply(ufunc.__name__, *inputs)

    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
        if func is np.where and not kwargs:
            return elementwise(torch.where, *args)
        if func is np.zeros_like and not kwargs:
            return TensorList([torch.zeros_like(t) for t in args[0].tensors])
        return NotImplemented

    # ------------------------------------------------------------------ arithmetic

    def __add__(self, other: Operand) -> Any:
        return apply("add", self, other)

    def __radd__(self, other: Operand) -> Any:
        return apply("add", other, self)

    def __sub__(self, other: Operand) -> Any:
        return apply("subtract", self, other)

    def __rsub__(self, other: Operand) -> Any:
        return apply("subtract", other, self)

    def __mul__(self, other: Operand) -> Any:
        return apply("multiply", self, other)

    def __rmul__(self, other: Operand) -> Any:
        return apply("multiply", other, self)

    def __truediv__(self, other: Operand) -> Any:
        return apply("divide", self, other)

    def __rtruediv__(self, other: Operand) -> Any:
        return apply("divide", other, self)

    def __pow__(self, other: Operand) -> Any:
        return apply("power", self, other)

    def __neg__(self) -> Any:
        return apply("negative", self)

    def __abs__(self) -> Any:
        return apply("absolute", self)

    def __lt__(self, other: Operand) -> Any:
        return apply("less", self, other)

    def __le__(self, other: Operand) -> Any:
        return apply("less_equal", self, other)

    def __gt__(self, other: Operand) -> Any:
        return apply("greater", self, other)

    def __ge__(self, other: Operand) -> Any:
        return apply("greater_equal", self, other)


def apply(name: str, *operands: Operand) -> Any:
    """The ufunc ``name`` of ``operands`` (at least one a :class:`TensorList`), one list out."""
    single, multi = UFUNCS[name]
    if len(operands) == 2:
        a, b = operands
        if name in COMMUTATIVE and not isinstance(a, TensorList):
            a, b = b, a
        if name in ("multiply", "divide") and isinstance(a, TensorList) and _is_one(b):
            return a  # exact: no pass over the values (Adam's root with Keras's epsilon is divided by 1)
        if multi is not None and isinstance(a, TensorList) and _foreach_operand(b, len(a)):
            if isinstance(b, TensorList):
                return TensorList(multi(a.tensors, b.tensors))
            first = a.tensors[0]
            # (on the CPU only: CUDA kernels divide by a host number as a multiplication by its inverse)
            scalar = _as_tensor(b, first) if isinstance(b, int | float) and first.device.type == "cpu" else b
            return TensorList(multi(a.tensors, scalar))
    elif multi is not None and isinstance(operands[0], TensorList):
        return TensorList(multi(operands[0].tensors))
    return elementwise(single, *operands)


def elementwise(function: Callable[..., Any], *operands: Operand) -> TensorList:
    """``function`` applied tensor by tensor; operands that are not lists go to every call."""
    lengths = {len(x) for x in operands if isinstance(x, TensorList)}
    if len(lengths) != 1:
        raise ValueError(f"TensorList operands of different lengths: {sorted(lengths)}")
    (length,) = lengths
    columns = [x.tensors if isinstance(x, TensorList) else [x] * length for x in operands]
    return TensorList([function(*row) for row in zip(*columns, strict=True)])


#: Python numbers as 0-d tensors, by (value, dtype, device): the rule's constants (a beta, 1 - beta,
#: epsilon) recur every step.
_SCALARS: dict[tuple, torch.Tensor] = {}


def _as_tensor(x: int | float, like: torch.Tensor) -> torch.Tensor:
    """``x`` as a 0-d tensor of ``like``'s dtype: torch's multi-tensor operations take one at a third of
    the cost of a Python number (which they wrap tensor by tensor), for the same values: a CPU kernel
    reads a Python number, or a 0-d tensor, as one value in the other operand's precision."""
    key = (float(x), like.dtype, like.device)
    scalar = _SCALARS.get(key)
    if scalar is None:
        if len(_SCALARS) > 1024:  # numbers that change every step (not the rules' own): start over
            _SCALARS.clear()
        scalar = _SCALARS[key] = torch.tensor(float(x), dtype=like.dtype, device=like.device)
    return scalar


def _is_one(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and x == 1


def _foreach_operand(x: Any, length: int) -> bool:
    """Whether torch's multi-tensor operations take ``x`` as the second operand."""
    if isinstance(x, TensorList):
        return len(x) == length
    if isinstance(x, torch.Tensor):
        return x.dim() == 0
    return isinstance(x, int | float)
