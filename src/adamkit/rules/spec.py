"""The contract every algorithm follows: hyperparameters, checks, state, and a pure update.

A rule is data plus two pure functions. It knows nothing about PyTorch optimizers,
param groups or kernels; every front end (NumPy, torch, Keras) and every engine
(reference, fused) executes the same rule, so the math lives in exactly one place.

Arrays: a rule works on whatever array module it is handed (NumPy arrays, torch
tensors, and JAX's and TensorFlow's tensors for Keras). It uses arithmetic operators and
the few functions that all these modules share (``sqrt``, ``maximum``, ``abs``,
``zeros_like``, ``full_like``, ``sum``, ``where``), looked up through :func:`namespace`.

Scalars (the learning rate, ``step``, Nadam's ``mu_product``) are Python numbers for
the NumPy and torch front ends (or a NumPy float32 where torch stores one so: see
``Rule.stored_precision``), and 0-d backend tensors under Keras, whose compiled
steps (``tf.function``, ``jax.jit``, ``torch.compile``) cannot read a value on the host.
So a rule never calls ``float()`` on a scalar and never branches on one with ``if``:
:func:`sqrt` takes the root of either kind, and :func:`choose` is an ``if`` for a
Python condition and an elementwise ``where`` (both sides computed) for a tensor one.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

import numpy as np

Array = Any  # a numpy.ndarray or a torch.Tensor
State = dict[str, Any]
Hyper = Mapping[str, Any]


def namespace(x: Array) -> ModuleType:
    """The array module of ``x``: torch, ``jax.numpy``, ``tensorflow.experimental.numpy`` or NumPy.

    Looked up in ``sys.modules`` (a module not yet imported cannot have made ``x``), NumPy's
    and torch's types first so that their users pay nothing for the others.
    """
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        return torch
    if isinstance(x, np.ndarray | np.generic | float | int):
        return np
    jax = sys.modules.get("jax")
    if jax is not None and isinstance(x, jax.Array):  # tracers under jax.jit too
        return jax.numpy
    tf = sys.modules.get("tensorflow")
    if tf is not None and tf.is_tensor(x):  # symbolic tensors in a tf.function too
        return tf.experimental.numpy
    return np


def to_float(x: Any) -> float:
    """The value of a 0-dim array or number as a Python float (a tensor's autograd history is
    left behind: what takes this value makes a decision, not a differentiable computation)."""
    detach = getattr(x, "detach", None)  # a torch tensor: its value without its history
    return float(detach() if callable(detach) else x)


@dataclass(frozen=True)
class Check:
    """One hyperparameter range: ``low <= value < high`` with chosen closedness.

    ``index`` picks one element of a tuple hyperparameter (``betas[0]``).
    """

    name: str
    low: float = -math.inf
    high: float = math.inf
    low_closed: bool = True
    high_closed: bool = True
    index: int | None = None
    what: str = ""  # torch's wording ("learning rate"), kept so messages read familiarly

    def label(self) -> str:
        what = self.what or self.name.replace("_", " ")
        arg = self.name if self.index is None else f"{self.name}[{self.index}]"
        return f"{what} ({arg})"

    def allowed(self) -> str:
        left = "[" if self.low_closed else "("
        right = "]" if self.high_closed else ")"
        if self.high == math.inf and self.low_closed:
            return f">= {_fmt(self.low)}"
        if self.high == math.inf:
            return f"> {_fmt(self.low)}"
        return f"in {left}{_fmt(self.low)}, {_fmt(self.high)}{right}"

    def __call__(self, hp: Hyper) -> None:
        if self.name not in hp:
            return
        value = hp[self.name]
        if self.index is not None:
            value = value[self.index]
        if namespace(value) is not np:  # a tensor hyperparameter: its value, not its autograd history
            value = value.detach()
        try:
            if isinstance(value, (str, bytes)):  # float("0.1") would pass, then each engine fails its own way
                raise TypeError
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"Invalid {self.label()}: {value!r} (must be a number {self.allowed()})"
            ) from None
        above = v >= self.low if self.low_closed else v > self.low
        below = v <= self.high if self.high_closed else v < self.high
        if not (above and below):  # also rejects NaN
            raise ValueError(f"Invalid {self.label()}: {value} (must be {self.allowed()})")


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def nonneg(name: str, what: str = "") -> Check:
    return Check(name, low=0.0, what=what)


def unit_open(name: str, index: int | None = None, what: str = "") -> Check:
    """``0 <= value < 1``: decay rates such as betas."""
    return Check(name, 0.0, 1.0, high_closed=False, index=index, what=what)


def unit_closed(name: str, index: int | None = None, what: str = "") -> Check:
    return Check(name, 0.0, 1.0, index=index, what=what)


LR = nonneg("lr", "learning rate")
EPS = nonneg("eps", "epsilon value")
WEIGHT_DECAY = nonneg("weight_decay", "weight_decay value")
BETA1 = unit_open("betas", 0, "beta parameter at index 0")
BETA2 = unit_open("betas", 1, "beta parameter at index 1")


@dataclass(frozen=True)
class Rule:
    """One optimisation algorithm, written once.

    Attributes:
      name: registry name (``"adam"``).
      title: the class name front ends give it (``"Adam"``, ``"NAdam"``, ``"SGD"``).
      defaults: hyperparameters and their defaults, with torch.optim's names.
      checks: the ranges every hyperparameter must lie in.
      init: ``init(param, hp) -> state``: the state of a fresh parameter, with
        torch.optim's key names. Scalars (``step``) are Python numbers.
      update: ``update(param, grad, state, hp) -> (new_param, new_state)``: pure,
        never writes into its arguments.
      scalar_state: state keys that hold numbers rather than arrays.
      stored_precision: the scalar state whose storage rounds it (NAdam's ``mu_product``):
        torch.optim keeps it in a 0-dim tensor of its scalar dtype (float32 unless the default
        dtype is float64) and updates it in place, so each step's new value is rounded to that
        dtype before the step uses it. The torch engines hand these keys to ``update`` as a
        NumPy float32 when so stored, and the rule updates them with :func:`times_in_place`;
        elsewhere (float64 storage, the NumPy front end) they are plain numbers.
      paper: the reference.
      extra_checks: checks across several hyperparameters (``nesterov`` needs momentum).
      sparse_hyper: how the rule takes sparse gradients (``nn.Embedding(sparse=True)``):
        the hyperparameter overrides under which it is applied to the rows present in
        the gradient only (lazy moments, as torch.optim.SparseAdam). ``None``: sparse
        gradients are rejected. Needs an elementwise rule (array state shaped like the
        parameter); see :mod:`adamkit.torch.sparse`.
    """

    name: str
    title: str
    defaults: Mapping[str, Any]
    checks: tuple[Check, ...]
    init: Callable[[Array, Hyper], State]
    update: Callable[[Array, Array, State, Hyper], tuple[Array, State]]
    scalar_state: tuple[str, ...] = ("step",)
    stored_precision: tuple[str, ...] = ()
    paper: str = ""
    extra_checks: tuple[Callable[[Hyper], None], ...] = field(default=())
    sparse_hyper: Mapping[str, Any] | None = None

    def validate(self, hp: Hyper) -> None:
        """Raise ``ValueError`` naming the first hyperparameter out of range."""
        check_tuple_lengths(self.defaults, hp)
        for check in self.checks:
            check(hp)
        for check in self.extra_checks:
            check(hp)

    def hyper(self, **overrides: Any) -> dict[str, Any]:
        """Defaults with ``overrides`` applied and validated."""
        unknown = set(overrides) - set(self.defaults)
        if unknown:
            raise TypeError(f"{self.name}: unknown hyperparameter(s) {sorted(unknown)}")
        hp = {**self.defaults, **overrides}
        self.validate(hp)
        return hp

    def derive(self, name: str, title: str, **default_changes: Any) -> Rule:
        """The same algorithm under another name and other defaults (AdamW from Adam)."""
        return replace(self, name=name, title=title, defaults={**self.defaults, **default_changes})


def check_tuple_lengths(defaults: Hyper, hp: Hyper) -> None:
    """A hyperparameter whose default is a tuple (``betas``) must be a sequence of that length.

    Without this, ``betas=(0.9,)`` fails with a bare ``IndexError`` and ``betas=(0.9, 0.99, 0.5)``
    trains with the third value silently ignored.
    """
    for name, default in defaults.items():
        if not isinstance(default, tuple) or name not in hp:
            continue
        value = hp[name]
        if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != len(default):
            raise ValueError(
                f"Invalid {name} ({name}): {value!r} (must be a sequence of {len(default)} numbers, "
                f"like {default})"
            )


def apply_weight_decay(param: Array, grad: Array, hp: Hyper) -> tuple[Array, Array]:
    """L2 (added to the gradient) or decoupled (shrinks the parameter) weight decay.

    Decoupled decay is Loshchilov and Hutter's AdamW: ``p <- p * (1 - lr * wd)``,
    applied before the moments, as torch.optim does.
    """
    wd = hp["weight_decay"]
    if wd == 0:
        return param, grad
    if hp.get("decoupled_weight_decay", False):
        return param * (1 - hp["lr"] * wd), grad
    return param, grad + wd * param


def signed_grad(grad: Array, hp: Hyper) -> Array:
    """``-grad`` when maximising: every rule then minimises."""
    return -grad if hp.get("maximize", False) else grad


def lerp(a: Array, b: Array, weight: float) -> Array:
    """``a + weight * (b - a)``: the exponential moving average written as torch's lerp."""
    return a + weight * (b - a)


# ----------------------------------------------------------------------------- scalars that may be tensors


def is_number(x: Any) -> bool:
    """Whether ``x`` is a host number (Python or NumPy scalar) rather than a backend tensor."""
    return isinstance(x, int | float | np.generic)


def times_in_place(stored: Any, factor: Any) -> Any:
    """``stored * factor`` as torch's in-place ``stored *= factor`` leaves a 0-dim state tensor.

    A NumPy float32 (scalar state a torch engine read from a float32 tensor: see
    ``Rule.stored_precision``) is multiplied in float32 with ``factor`` rounded to float32 first,
    as torch casts a Python number to the tensor's dtype; the product comes back as a Python
    float, the value the tensor then holds, so that what the step computes from it is in float64
    as torch computes it from ``.item()``. Anything else (Python floats, float64, tensors) is
    multiplied as it is.
    """
    if isinstance(stored, np.float32) and is_number(factor):
        return float(stored * np.float32(factor))
    return stored * factor


def sqrt(x: Any) -> Any:
    """The square root of a scalar: ``math.sqrt`` for a number, the backend's for a tensor."""
    return math.sqrt(x) if is_number(x) else namespace(x).sqrt(x)


def power(base: float, exponent: Any) -> Any:
    """``base**exponent`` for a number ``base`` (a decay rate such as beta2) and a scalar ``exponent``.

    For a number exponent exactly ``base**exponent``. For a tensor one (float32 under Keras)
    ``exp(exponent * log(base))`` with the logarithm taken on the host in float64: ``0.999``
    rounded to float32 first would put an error of 1e-5 into ``1 - 0.999**t``.
    """
    if is_number(exponent) or base <= 0:
        return base**exponent
    return namespace(exponent).exp(exponent * math.log(base))


def one_minus_power(base: float, exponent: Any) -> Any:
    """``1 - base**exponent``, the bias corrections: for a tensor exponent ``-expm1(exponent * log(base))``,
    exact to the tensor's precision where the subtraction would cancel (see :func:`power`)."""
    if is_number(exponent) or base <= 0:
        return 1 - base**exponent
    return -namespace(exponent).expm1(exponent * math.log(base))


def minimum(x: Any, y: Any) -> Any:
    """The smaller of two scalars: ``min`` for numbers, the backend's ``minimum`` for a tensor ``x``."""
    return min(x, y) if is_number(x) else namespace(x).where(x < y, x, y)  # torch's minimum takes no number


def cos(x: Any) -> Any:
    """The cosine of a scalar: ``math.cos`` for a number, the backend's for a tensor."""
    return math.cos(x) if is_number(x) else namespace(x).cos(x)


def choose(condition: Any, if_true: Callable[[], Any], if_false: Callable[[], Any]) -> Any:
    """``if_true()`` where ``condition`` holds, else ``if_false()``.

    For a Python (or NumPy) bool this is an ``if``: only the chosen side runs. For a
    backend tensor (a traced step cannot branch on a value) both sides run and an
    elementwise ``where`` keeps the chosen values, so the other side may hold inf or NaN.
    Either side may return a number, an array, or tuples and dicts of them (same keys).
    """
    if isinstance(condition, bool | np.bool_):
        return if_true() if condition else if_false()
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(condition, torch.Tensor) and not torch.compiler.is_compiling():
        # an eager torch value (a tensor beta under differentiable=True): an if, as for a number, so
        # the side not taken (NaN where RAdam's rectification is undefined) never reaches autograd
        return if_true() if bool(condition) else if_false()
    return _where(namespace(condition), condition, if_true(), if_false())


def _where(xp: ModuleType, condition: Any, a: Any, b: Any) -> Any:
    if isinstance(a, dict):
        return {key: _where(xp, condition, a[key], b[key]) for key in a}
    if isinstance(a, tuple):
        return tuple(_where(xp, condition, x, y) for x, y in zip(a, b, strict=True))
    return xp.where(condition, a, b)
