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

Two things make the list cheaper than the rule's expression read literally, neither of which
changes a bit:

* A list that holds one 0-d tensor for every variable (:meth:`TensorList.repeat`: the ``step``
  of variables that all took the same number of steps) computes its arithmetic once: the
  bias corrections cost a handful of operations, not a handful per variable.
* Arithmetic on lists of full tensors is recorded, not run, until :func:`write` stores the
  rule's results in the variables. Knowing then every use of every intermediate, it runs each
  operation in place (``torch._foreach_mul_``...) on an operand no one reads afterwards: a
  temporary, or the very variable the result goes to once its old value is read for the last
  time (Adam's ``m + w * (g - m)`` becomes ``m += ...``). The kernels are the same ones, so the
  bits are; what goes is most of the allocations and the copies into the variables.
* :func:`record` keeps what one step ran (each operation, in place or not, in order) as a
  :class:`Program` that later steps replay on their own tensors, without running the rule's
  Python again. The rules are written to be traced (no ``float()`` of a value, no ``if`` on one:
  :mod:`adamkit.rules.spec`), so what one step runs is what every step with the same
  hyperparameters, variables and shared scalars runs; the optimizer keys its programs on those.

An operation the list does not know raises ``TypeError``; the optimizers that take this path
are those whose rule is covered by the tests (``RuleOptimizer.multi_tensor``).
"""

from __future__ import annotations

import math
import operator
import threading
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

#: The in-place form of each multi-tensor operation: the same kernel, written into the first operand.
IN_PLACE: dict[str, Callable[..., Any]] = {
    name: getattr(torch, f"{multi.__name__}_") for name, (_, multi) in UFUNCS.items() if multi is not None
}

_copy = torch._foreach_copy_

#: Operations whose operands may swap (IEEE addition and multiplication are commutative).
COMMUTATIVE = {"add", "multiply", "maximum", "minimum"}

#: ``TensorList._home`` of a list computed into fresh tensors that nothing else holds.
OWN = "own"

#: While :func:`record` runs in this thread (``.now``): the computations run so far, and the lists
#: they made (a thread of its own: another optimizer's step in another thread is not this one's).
_recording = threading.local()


class TensorList:
    """Torch tensors (one per variable) that arithmetic and NumPy's functions treat as one array.

    Operations never change their operands: each returns a new list (or, for ``x * 1`` and
    ``x / 1``, which are exact, ``x`` itself). Those torch runs as multi-tensor operations are
    recorded and run when ``tensors`` is read, or by :func:`write`.

    Example:
        >>> import torch
        >>> from adamkit.rules.adam import ADAM
        >>> hp = ADAM.hyper(lr=0.1)
        >>> params = TensorList([torch.ones(2), torch.ones(3)])
        >>> state = {"step": TensorList.repeat(torch.tensor(0.0), 2),
        ...          "exp_avg": params * 0.0, "exp_avg_sq": params * 0.0}
        >>> new, state = ADAM.update(params, params * 2.0, state, hp)
        >>> [round(float(t[0]), 6) for t in new.tensors]
        [0.9, 0.9]
    """

    # _tensors: the values (None while recorded, or once an in-place operation took them over);
    # _recipe: (ufunc name, operands) while recorded; _single: the one 0-d tensor of a repeat;
    # _home: where the tensors live, when an operation may write over them (OWN or a write target).
    __slots__ = ("_tensors", "_recipe", "_length", "_single", "_home")

    def __init__(self, tensors: Sequence[torch.Tensor]) -> None:
        self._tensors: list[torch.Tensor] | None = list(tensors)
        self._length = len(self._tensors)
        self._recipe: tuple[str, tuple] | None = None
        self._single: torch.Tensor | None = None
        self._home: Any = None
        recording = getattr(_recording, "now", None)
        if recording is not None:
            recording[1].append(self)

    @classmethod
    def repeat(cls, tensor: torch.Tensor, length: int) -> TensorList:
        """``length`` times the 0-d ``tensor``: its arithmetic runs once (every variable's result is that)."""
        if tensor.dim() != 0:
            raise ValueError(f"Invalid tensor to repeat (tensor): shape {tuple(tensor.shape)} (must be 0-d)")
        repeated = cls([tensor] * length)
        repeated._single = tensor
        return repeated

    @classmethod
    def _blank(cls, length: int, recipe: tuple[str, tuple] | None = None) -> TensorList:
        """A list whose tensors a computation sets (``recipe``: one recorded until :func:`write`)."""
        blank = cls([])
        blank._tensors, blank._recipe, blank._length = None, recipe, length
        return blank

    def _set(self, value: torch.Tensor, length: int) -> None:
        """Make this list ``value`` for every variable (a repeat when ``value`` is 0-d)."""
        self._tensors = [value] * length
        self._single = value if value.dim() == 0 else None

    @property
    def tensors(self) -> list[torch.Tensor]:
        """The tensors, one per variable (a recorded list computes here, into new tensors)."""
        if self._tensors is None:
            if self._recipe is None:
                raise RuntimeError("this TensorList's tensors were taken over by an operation in place")
            for node in _recorded_below([self], {}):
                _run(node, {}, {})
        return self._tensors  # type: ignore[return-value]

    def __len__(self) -> int:
        return self._length

    # ------------------------------------------------------------------ NumPy's protocols

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method != "__call__" or kwargs or ufunc.__name__ not in UFUNCS:
            return NotImplemented
        return apply(ufunc.__name__, *inputs)

    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
        if func is np.where and not kwargs:
            return elementwise(torch.where, *args)
        if func is np.zeros_like and not kwargs:
            return elementwise(torch.zeros_like, args[0])
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


def repeat_if_equal(tensors: TensorList) -> TensorList:
    """:meth:`TensorList.repeat` of the first of ``tensors`` (0-d, one per variable) when all hold the
    same bits and live on the CPU (reading them there costs little; on an accelerator it would wait
    for the device), else ``tensors`` itself."""
    first = tensors.tensors[0]
    if first.device.type != "cpu" or any(t.dim() != 0 or t.dtype != first.dtype for t in tensors.tensors):
        return tensors
    values = [t.item() for t in tensors.tensors]
    bits = {(v, math.copysign(1.0, v)) for v in values}  # (-0.0 == 0.0, yet not the same bits)
    if len(bits) == 1 and not math.isnan(values[0]):
        return TensorList.repeat(first, len(values))
    return tensors


def apply(name: str, *operands: Operand) -> Any:
    """The ufunc ``name`` of ``operands`` (at least one a :class:`TensorList`), one list out."""
    single, multi = UFUNCS[name]
    lists = [x for x in operands if isinstance(x, TensorList)]
    lengths = {len(x) for x in lists}
    if len(lengths) != 1:
        raise ValueError(f"TensorList operands of different lengths: {sorted(lengths)}")
    (length,) = lengths
    if all(x._single is not None for x in lists):
        return _once(single, operands, length)
    if len(operands) == 2:
        a, b = operands
        if name in COMMUTATIVE and (not isinstance(a, TensorList) or a._single is not None):
            a, b = b, a  # the list of full tensors first: torch's multi-tensor operations take it there
        if name in ("multiply", "divide") and _is_one(b):
            return a  # exact: no pass over the values (Adam's root with Keras's epsilon is divided by 1)
        if multi is not None and isinstance(a, TensorList) and a._single is None and _foreach_operand(b):
            return TensorList._blank(length, (name, (a, b)))
    elif multi is not None and isinstance(operands[0], TensorList) and operands[0]._single is None:
        return TensorList._blank(length, (name, operands))
    return elementwise(single, *operands)


def elementwise(function: Callable[..., Any], *operands: Operand) -> TensorList:
    """``function`` applied tensor by tensor; operands that are not lists go to every call."""
    lengths = {len(x) for x in operands if isinstance(x, TensorList)}
    if len(lengths) != 1:
        raise ValueError(f"TensorList operands of different lengths: {sorted(lengths)}")
    (length,) = lengths
    if all(x._single is not None for x in operands if isinstance(x, TensorList)):
        return _once(function, operands, length)
    result = TensorList._blank(length)

    def compute() -> None:
        columns = [x.tensors if isinstance(x, TensorList) else [x] * length for x in operands]
        result._tensors = [function(*row) for row in zip(*columns, strict=True)]

    _run_now(compute)
    return result


def _once(function: Callable[..., Any], operands: tuple, length: int) -> TensorList:
    """``function`` of operands whose lists each repeat one 0-d tensor: computed once, as the
    per-variable step computes it, and repeated."""
    result = TensorList._blank(length)

    def compute() -> None:
        result._set(function(*(_value(x) for x in operands)), length)

    _run_now(compute)
    return result


def _run_now(compute: Callable[[], None]) -> None:
    """Run ``compute``, and keep it for the program being recorded, if one is."""
    compute()
    recording = getattr(_recording, "now", None)
    if recording is not None:
        recording[0].append(compute)


def _value(x: Operand) -> Any:
    """What an operation takes for ``x`` now: a list's one tensor or its tensors, else ``x``."""
    if isinstance(x, TensorList):
        return x._single if x._single is not None else x._tensors
    return x


class Program:
    """The computations of one recorded step (see :func:`record`), to replay on other tensors."""

    def __init__(self, inputs: list[TensorList], computations: list[Callable[[], None]], made: list) -> None:
        self.inputs, self.computations, self.made = inputs, computations, made

    def run(self, inputs: Sequence[TensorList]) -> None:
        """The recorded step on ``inputs`` (lists as the recorded ones, in the same order)."""
        for mine, given in zip(self.inputs, inputs, strict=True):
            mine._tensors, mine._single = given._tensors, given._single
        try:
            for compute in self.computations:
                compute()
        finally:
            self.release()

    def release(self) -> None:
        """Let go of the step's tensors (temporaries, gradients) until the next run."""
        for x in self.inputs:
            x._tensors = x._single = None
        for x in self.made:
            x._tensors = x._single = None


def record(inputs: list[TensorList], step: Callable[[], None]) -> Program:
    """Run ``step`` (the rule's update of ``inputs`` and its :func:`write`) and return it as a
    :class:`Program` that replays it on other tensors of the same shapes, dtypes and repeats."""
    if getattr(_recording, "now", None) is not None:
        raise RuntimeError("record() does not nest")
    _recording.now = ([], [])
    try:
        step()
        program = Program(list(inputs), *_recording.now)
    finally:
        _recording.now = None
    program.release()
    return program


def write(results: Sequence[tuple[TensorList, TensorList]]) -> None:
    """Store each ``(result, target)``: ``result``'s values into ``target``'s tensors (the variables).

    The recorded operations run here, each in place on an operand that nothing reads afterwards
    where it fits there (same shape and dtype): a temporary, or a target whose old value has
    had its last reader and whose result the operation leads to. A result that ends elsewhere
    is copied. The lists computed along the way are not for reading afterwards.
    """
    uses: dict[int, int] = {}
    for result, _ in results:
        uses[id(result)] = uses.get(id(result), 0) + 1
    order = _recorded_below([result for result, _ in results], uses)
    # The operations that may write into a target: those on a chain of single-use operands
    # from the target's result down to the target itself.
    homes: dict[int, tuple[TensorList, int]] = {}
    for result, target in results:
        for node, position in _chain(result, target, uses):
            homes.setdefault(id(node), (target, position))
    for node in order:
        _run(node, uses, homes)
    targets = {id(target) for _, target in results}
    # a target that is another's result unchanged is copied before anything is copied over it
    for result, target in sorted(results, key=lambda pair: id(pair[0]) not in targets):
        if result._tensors is not target._tensors:
            _run_now(lambda result=result, target=target: _copy(target._tensors, result._tensors))


def _recorded_below(tops: list[TensorList], uses: dict[int, int]) -> list[TensorList]:
    """The recorded lists that ``tops`` need, each after its operands; ``uses`` counts their readers."""
    order: list[TensorList] = []
    seen: set[int] = set()

    def visit(node: TensorList) -> None:
        if id(node) in seen or node._recipe is None:
            return
        seen.add(id(node))
        for x in node._recipe[1]:
            if isinstance(x, TensorList):
                uses[id(x)] = uses.get(id(x), 0) + 1
                visit(x)
        order.append(node)

    for top in tops:
        visit(top)
    return order


def _positions(name: str, operands: tuple) -> tuple[int, ...]:
    """The operands an in-place form may write into: the first, or either of a commutative pair."""
    return (0, 1) if len(operands) == 2 and name in COMMUTATIVE else (0,)


def _chain(node: TensorList, target: TensorList, uses: dict[int, int]) -> list[tuple[TensorList, int]]:
    """``(list, operand position)`` from ``node`` down to an operation on ``target`` itself, through
    recorded operands that have one reader each (empty when there is no such chain)."""
    if node._recipe is None:
        return []
    name, operands = node._recipe
    for position in _positions(name, operands):
        x = operands[position]
        if x is target:
            return [(node, position)]
        if isinstance(x, TensorList) and x._recipe is not None and uses[id(x)] == 1:
            below = _chain(x, target, uses)
            if below:
                return [(node, position), *below]
    return []


def _run(node: TensorList, uses: dict[int, int], homes: dict[int, tuple[TensorList, int]]) -> None:
    """Compute the recorded ``node``: in place on an operand that may take it (see :func:`write`),
    else into new tensors."""
    name, operands = node._recipe  # type: ignore[misc]
    node._recipe = None
    home = homes.get(id(node))
    order = _positions(name, operands)
    if home is not None:
        order = (home[1], *(p for p in order if p != home[1]))
    chosen = None
    for position in order:
        x = operands[position]
        if not isinstance(x, TensorList) or uses.get(id(x)) != 1:
            continue  # (uses 1: this is its last reader; an operand read twice here counts twice)
        if x._home is OWN or (home is not None and (x is home[0] or x._home is home[0])):
            rest = operands[:position] + operands[position + 1 :]
            if not rest or _fits(x.tensors, rest[0]):
                chosen = position
                break
    for x in operands:
        if isinstance(x, TensorList) and id(x) in uses:
            uses[id(x)] -= 1
    if chosen is None:
        first, *rest = operands
        rest = [_operand(r, first.tensors[0]) for r in rest]
        multi = UFUNCS[name][1]

        def compute() -> None:
            node._tensors = multi(first._tensors, *map(_value, rest))  # type: ignore[misc]

        node._home = OWN
    else:
        x = operands[chosen]
        rest = [_operand(r, x.tensors[0]) for r in operands[:chosen] + operands[chosen + 1 :]]
        in_place, keep = IN_PLACE[name], home is not None and x is home[0]

        def compute() -> None:
            in_place(x._tensors, *map(_value, rest))
            node._tensors = x._tensors
            if not keep:
                x._tensors = None  # taken over: its values are gone

        node._home = OWN if x._home is OWN else home[0]  # type: ignore[index]
    _run_now(compute)


def _operand(x: Operand, first: torch.Tensor) -> Any:
    """``x`` as torch's multi-tensor operations take it after the list ``first`` heads (a list as
    it is: :func:`_value` reads it when the operation runs)."""
    if isinstance(x, TensorList):
        return x
    if isinstance(x, int | float) and first.device.type == "cpu":
        # (on the CPU only: CUDA kernels divide by a host number as a multiplication by its inverse)
        return _as_tensor(x, first)
    return x


def _fits(tensors: list[torch.Tensor], other: Operand) -> bool:
    """Whether ``op(tensors, other)`` has the shapes and dtypes of ``tensors`` (so it may go there)."""
    if isinstance(other, TensorList) and other._single is not None:
        other = other._single
    if isinstance(other, TensorList):
        return all(
            o.dtype == t.dtype and t.is_floating_point() and (o.shape == t.shape or o.dim() == 0)
            for o, t in zip(other.tensors, tensors, strict=True)
        )
    if isinstance(other, torch.Tensor):
        return all(t.is_floating_point() and (t.dim() > 0 or t.dtype == other.dtype) for t in tensors)
    return all(t.is_floating_point() for t in tensors)


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


def _foreach_operand(x: Any) -> bool:
    """Whether torch's multi-tensor operations take ``x`` as the second operand."""
    if isinstance(x, TensorList):
        return True  # (of the same length: checked)
    if isinstance(x, torch.Tensor):
        return x.dim() == 0
    return isinstance(x, int | float)
