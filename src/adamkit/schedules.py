r"""Learning-rate schedules: plain callables from a step number to a multiplier of the base rate.

A schedule ``f`` answers ``f(t)``: the factor applied to the base learning rate
:math:`\eta_0` at step :math:`t` (0, 1, 2, ...), so :math:`\eta_t = \eta_0 f(t)`.
The step may also be a 0-d backend tensor (Keras's compiled steps): the schedules
take their minima, cosines and branches through :mod:`adamkit.rules.spec`'s helpers.
Schedules know nothing of any framework; they compose (``warmup(cosine(1000), steps=100)``),
and two small adapters drive an optimizer with one:

* :func:`to_torch` wraps a schedule in ``torch.optim.lr_scheduler.LambdaLR``;
* :func:`for_groups` returns a scheduler for any optimizer with torch-style
  ``param_groups`` (the NumPy optimizers of :mod:`adamkit.numpy` included).

The factors equal torch's schedulers: :func:`step` is ``StepLR``, :func:`exponential`
``ExponentialLR``, :func:`cosine` ``CosineAnnealingLR`` (up to its period; after it, ours
stays at the minimum where torch's climbs back), :func:`linear` ``LinearLR``.

Example (a NumPy loop)::

    >>> from adamkit.schedules import cosine, warmup
    >>> schedule = warmup(cosine(steps=90), steps=10)
    >>> [round(0.1 * schedule(t), 4) for t in (0, 5, 10, 55, 100)]
    [0.0, 0.05, 0.1, 0.05, 0.0]

:func:`parse` reads the lab's ``--schedule`` strings (``cosine``, ``warmup-cosine:100``,
``step:2ep:0.5``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .rules.spec import choose, cos, minimum


class Schedule(Protocol):
    """Anything callable as ``schedule(step) -> multiplier``."""

    def __call__(self, step: int) -> float: ...


@dataclass(frozen=True)
class Constant:
    """The factor 1 at every step: the base learning rate unchanged."""

    def __call__(self, step: int) -> float:
        return 1.0


@dataclass(frozen=True)
class Step:
    r""":math:`\gamma^{\lfloor t / \text{every} \rfloor}`: multiply by ``gamma`` every ``every`` steps."""

    every: int
    gamma: float

    def __call__(self, step: int) -> float:
        return self.gamma ** (step // self.every)


@dataclass(frozen=True)
class Exponential:
    r""":math:`\gamma^t`: multiply by ``gamma`` every step."""

    gamma: float

    def __call__(self, step: int) -> float:
        return self.gamma**step


@dataclass(frozen=True)
class Cosine:
    r"""Half a cosine from 1 down to ``min_factor`` over ``steps`` steps, then ``min_factor``.

    :math:`f(t) = f_{min} + (1 - f_{min}) \frac{1 + \cos(\pi \min(t, T) / T)}{2}`
    (Loshchilov and Hutter, SGDR, 2017, without restarts).
    """

    steps: int
    min_factor: float = 0.0

    def __call__(self, step: int) -> float:
        progress = minimum(step, self.steps) / self.steps
        return self.min_factor + (1.0 - self.min_factor) * (1.0 + cos(math.pi * progress)) / 2.0


@dataclass(frozen=True)
class Linear:
    r"""A straight line from ``start`` to ``end`` over ``steps`` steps, then ``end``."""

    start: float
    end: float
    steps: int

    def __call__(self, step: int) -> float:
        return self.start + (self.end - self.start) * minimum(step, self.steps) / self.steps


@dataclass(frozen=True)
class Warmup:
    r"""Ramp linearly from ``start_factor`` for ``steps`` steps, then run ``after`` from its step 0.

    During the ramp the factor is :math:`(s + (1 - s) t / W) \cdot f_{after}(0)`, so the
    ramp ends where the following schedule starts (Goyal et al., 2017, "Accurate,
    large minibatch SGD", gradual warmup). Equals torch's ``SequentialLR`` of a
    ``LinearLR(start_factor=s, total_iters=W)`` and the following scheduler.
    """

    after: Schedule
    steps: int
    start_factor: float = 0.0

    def __call__(self, step: int) -> float:
        def ramp() -> float:
            return (self.start_factor + (1.0 - self.start_factor) * step / self.steps) * self.after(0)

        return choose(step >= self.steps, lambda: self.after(step - self.steps), ramp)


def _count(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"Invalid {what}: {value!r} (must be an integer >= 1)")
    return value


def _factor(value: float, what: str, low: float = 0.0) -> float:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= low):
        raise ValueError(f"Invalid {what}: {value!r} (must be a number >= {low})")
    return float(value)


def constant() -> Constant:
    """The base learning rate at every step."""
    return Constant()


def step(every: int, gamma: float = 0.1) -> Step:
    """Multiply the learning rate by ``gamma`` every ``every`` steps (torch's ``StepLR``)."""
    return Step(_count(every, "step period (every)"), _factor(gamma, "step factor (gamma)"))


def exponential(gamma: float) -> Exponential:
    """Multiply the learning rate by ``gamma`` at every step (torch's ``ExponentialLR``)."""
    return Exponential(_factor(gamma, "decay factor (gamma)"))


def cosine(steps: int, min_factor: float = 0.0) -> Cosine:
    """Cosine decay to ``min_factor`` times the base rate over ``steps`` steps (``CosineAnnealingLR``)."""
    return Cosine(_count(steps, "cosine length (steps)"), _factor(min_factor, "cosine minimum (min_factor)"))


def linear(start: float, end: float, steps: int) -> Linear:
    """A linear ramp of the factor from ``start`` to ``end`` over ``steps`` steps (torch's ``LinearLR``)."""
    return Linear(_factor(start, "linear start"), _factor(end, "linear end"), _count(steps, "linear length"))


def warmup(after: Schedule | None = None, steps: int = 100, start_factor: float = 0.0) -> Warmup:
    """Linear warmup over ``steps`` steps from ``start_factor``, then ``after`` (default: constant)."""
    return Warmup(
        after if after is not None else Constant(),
        _count(steps, "warmup length (steps)"),
        _factor(start_factor, "warmup start (start_factor)"),
    )


def to_torch(schedule: Schedule, optimizer: Any) -> Any:
    """A ``torch.optim.lr_scheduler.LambdaLR`` that applies ``schedule``; call its ``step()`` per step."""
    from torch.optim.lr_scheduler import LambdaLR

    return LambdaLR(optimizer, lr_lambda=schedule)


class GroupScheduler:
    """Drives ``group["lr"]`` of any torch-style optimizer from a schedule, as ``LambdaLR`` does.

    The base rates are the groups' rates when the scheduler is made; ``step()`` advances
    one step and sets each ``lr`` to ``base * schedule(t)``. Works with
    :mod:`adamkit.numpy` optimizers, which torch's schedulers do not accept.
    """

    def __init__(self, schedule: Schedule, optimizer: Any) -> None:
        self.schedule = schedule
        self.optimizer = optimizer
        self.base_lrs = [float(group["lr"]) for group in optimizer.param_groups]
        self.last_step = 0
        self._apply()

    def _apply(self) -> None:
        factor = self.schedule(self.last_step)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * factor

    def step(self) -> None:
        """Move to the next step's learning rate."""
        self.last_step += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        """The learning rate of each group now."""
        return [group["lr"] for group in self.optimizer.param_groups]


def for_groups(schedule: Schedule, optimizer: Any) -> GroupScheduler:
    """A scheduler for any optimizer with torch-style ``param_groups`` (NumPy ones included)."""
    return GroupScheduler(schedule, optimizer)


#: The ``--schedule`` spellings: name -> (argument names, builder from parsed numbers and the run length).
SPEC_FORMS: dict[str, tuple[tuple[str, ...], Callable[..., Schedule]]] = {
    "constant": ((), lambda total: constant()),
    "cosine": ((), lambda total: cosine(total)),
    "step": (("every", "gamma"), lambda total, every, gamma: step(every, gamma)),
    "exponential": (("gamma",), lambda total, gamma: exponential(gamma)),
    "warmup": (("steps",), lambda total, steps: warmup(constant(), steps)),
    "warmup-cosine": (
        ("steps",),
        lambda total, steps: warmup(cosine(max(total - steps, 1)), steps),
    ),
}

SPEC_HELP = (
    "constant | cosine | step:EVERY:GAMMA | exponential:GAMMA | warmup:STEPS | warmup-cosine:STEPS; "
    "counts are optimizer steps, or epochs with an 'ep' suffix (step:2ep:0.5)"
)


def _parse_count(text: str, steps_per_epoch: int, spec: str) -> int:
    epochs = text.endswith("ep")
    try:
        value = int(text[:-2] if epochs else text)
    except ValueError:
        raise ValueError(f"Invalid schedule {spec!r}: {text!r} is not a whole number of steps") from None
    if value < 1:
        raise ValueError(f"Invalid schedule {spec!r}: {text!r} (counts must be >= 1)")
    return value * steps_per_epoch if epochs else value


def parse(spec: str, total_steps: int = 1000, steps_per_epoch: int = 1) -> Schedule:
    """Build the schedule that ``spec`` names, for a run of ``total_steps`` optimizer steps.

    Forms: ``constant``, ``cosine`` (to zero over the run), ``step:EVERY:GAMMA``,
    ``exponential:GAMMA``, ``warmup:STEPS`` (then constant), ``warmup-cosine:STEPS``
    (then cosine to zero over the rest of the run). Counts are optimizer steps, or
    epochs with an ``ep`` suffix. Raises ``ValueError`` with a one-line message.

    >>> parse("step:2ep:0.5", total_steps=100, steps_per_epoch=10)
    Step(every=20, gamma=0.5)
    """
    name, *fields = spec.strip().lower().split(":")
    if name not in SPEC_FORMS:
        raise ValueError(f"Unknown schedule {spec!r}; forms: {SPEC_HELP}")
    names, build = SPEC_FORMS[name]
    if len(fields) != len(names):
        form = ":".join([name, *(n.upper() for n in names)])
        raise ValueError(f"Invalid schedule {spec!r}: expected {form}")
    values: list[float | int] = []
    for field_name, text in zip(names, fields, strict=True):
        if field_name == "gamma":
            try:
                values.append(float(text))
            except ValueError:
                raise ValueError(f"Invalid schedule {spec!r}: {text!r} is not a number") from None
        else:
            values.append(_parse_count(text, steps_per_epoch, spec))
    return build(max(total_steps, 1), *values)


__all__ = [
    "Constant",
    "Cosine",
    "Exponential",
    "GroupScheduler",
    "Linear",
    "Schedule",
    "Step",
    "Warmup",
    "constant",
    "cosine",
    "exponential",
    "for_groups",
    "linear",
    "parse",
    "step",
    "to_torch",
    "warmup",
]
