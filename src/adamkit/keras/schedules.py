"""adamkit's learning-rate schedules as Keras ``LearningRateSchedule`` objects.

Keras's own schedules (``keras.optimizers.schedules.CosineDecay`` and the rest) work
unchanged with every adamkit optimizer. :class:`ScheduledRate` brings the
framework-free schedules of :mod:`adamkit.schedules` (factors of a base rate) to
Keras, and saves and loads with the model::

    from adamkit.schedules import cosine, warmup
    import adamkit.keras

    rate = adamkit.keras.ScheduledRate(1e-3, warmup(cosine(steps=9000), steps=1000))
    model.compile(optimizer=adamkit.keras.Adam(learning_rate=rate), loss="mse")

The step is Keras's: the optimizer's iteration count, starting at 0 (with gradient
accumulation, the count of micro-batches, as for Keras's schedules).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras

from .. import schedules
from .optimizer import register


def describe(schedule: schedules.Schedule) -> dict[str, Any]:
    """A JSON-able description of one of :mod:`adamkit.schedules`' schedules (nested ones included)."""
    name = type(schedule).__name__
    if not dataclasses.is_dataclass(schedule) or getattr(schedules, name, None) is not type(schedule):
        raise TypeError(
            f"Cannot save the schedule {schedule!r}: only adamkit.schedules' schedules "
            "(constant, step, exponential, cosine, linear, warmup) can be saved with a Keras model"
        )
    fields = {}
    for field in dataclasses.fields(schedule):
        value = getattr(schedule, field.name)
        fields[field.name] = describe(value) if dataclasses.is_dataclass(value) else value
    return {"class_name": name, "config": fields}


def rebuild(description: dict[str, Any]) -> schedules.Schedule:
    """The schedule that :func:`describe` described."""
    cls = getattr(schedules, description["class_name"], None)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__name__ in schedules.__all__):
        raise ValueError(f"Unknown adamkit schedule {description['class_name']!r}")
    fields = {
        key: rebuild(value) if isinstance(value, dict) else value
        for key, value in description["config"].items()
    }
    return cls(**fields)


@register
class ScheduledRate(keras.optimizers.schedules.LearningRateSchedule):
    r"""The learning rate :math:`\eta_t = \eta_0 f(t)` for an adamkit schedule :math:`f`.

    Args:
        initial_learning_rate: :math:`\eta_0`, the base rate (>= 0).
        schedule: any of :mod:`adamkit.schedules`' schedules (``cosine(1000)``,
            ``warmup(step(every=500, gamma=0.5), steps=100)``, ...), or any callable from a
            step to a factor (such a callable works but cannot be saved with the model).
            The step arrives as a float32 0-d tensor, traced under compiled steps, so the
            callable computes with operators and :mod:`adamkit.rules.spec`'s ``minimum``,
            ``cos`` and ``choose`` rather than ``if`` and ``math``.
    """

    def __init__(self, initial_learning_rate: float, schedule: schedules.Schedule) -> None:
        if not float(initial_learning_rate) >= 0:
            raise ValueError(
                f"Invalid initial learning rate (initial_learning_rate): {initial_learning_rate} "
                "(must be >= 0)"
            )
        self.initial_learning_rate = float(initial_learning_rate)
        self.schedule = schedule

    def __call__(self, step: Any) -> float:
        return self.initial_learning_rate * self.schedule(keras.ops.cast(step, "float32"))

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "schedule": describe(self.schedule)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ScheduledRate:
        return cls(config["initial_learning_rate"], rebuild(config["schedule"]))
