"""Keras 3 optimizers on adamkit's rules, for ``model.compile(optimizer=...)`` on any backend.

Change only the optimizer line of a Keras script::

    import adamkit.keras
    model.compile(optimizer=adamkit.keras.Adam(learning_rate=0.001),   # was keras.optimizers.Adam
                  loss="categorical_crossentropy", metrics=["accuracy"])

or, where a script names its optimizer by a string (``optimizer="adam"``), use
``adamkit.keras.get("adam")`` or the registered name ``optimizer="adamkit>Adam"``.
A model saved with Keras's ``"adam"`` loads with adamkit's in its place (fresh state:
Keras warns that it skips the saved one) through
``keras.saving.load_model(path, custom_objects={"Adam": adamkit.keras.Adam})``;
:data:`CUSTOM_OBJECTS` names every adamkit class as a saved model names it.

The classes are ``keras.optimizers.Optimizer`` subclasses with keras.optimizers'
names, arguments and defaults (``learning_rate``, ``beta_1``, ``beta_2``, ``epsilon``,
``amsgrad``, ``weight_decay``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``,
``use_ema``, ``ema_momentum``, ``gradient_accumulation_steps``,
``loss_scale_factor``...), and compute what keras.optimizers compute; the math comes
from :mod:`adamkit.rules`. Where Keras's arithmetic differs from torch.optim's (where
epsilon goes, Nadam's momentum schedule, RMSprop's and Adagrad's root),
``convention="torch"`` selects torch's (the paper's, for Adam). ``RAdam`` and
``SWATS`` have no Keras counterpart and compute adamkit's rule.

The modern family: ``Lion``, ``Lamb``, ``Adafactor`` and ``ScheduleFreeAdamW`` with Keras's
arguments and arithmetic (see :mod:`.modern` and :mod:`.schedulefree`: after ``model.fit``
the Schedule-Free model holds its average, for ``evaluate``; the :class:`ScheduleFreeEval`
callback evaluates the average during ``fit`` too); ``AdEMAMix`` and ``AdaBelief``,
which Keras lacks, compute adamkit's rules as :mod:`adamkit.torch` does. ``cautious=True``
on ``Lion`` and ``AdEMAMix``.

Everything saves and loads with the model (``get_config``/``from_config``, the state
as Keras variables); import ``adamkit.keras`` before ``keras.saving.load_model`` (without
it, Keras's error shows the saved config, which says so).
Keras's learning-rate schedules work as for any Keras optimizer, and
:class:`ScheduledRate` brings :mod:`adamkit.schedules`.

The backend is whatever Keras was configured with (``KERAS_BACKEND``); adamkit never
chooses it. The update traces like Keras's own (see :mod:`adamkit.keras.tensors`):
``model.compile``'s defaults work on TensorFlow (a graph; XLA with ``jit_compile=True``),
JAX (``jax.jit``) and torch (eager; ``jit_compile=True`` for ``torch.compile``).
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("keras") is None:
    raise ImportError(
        "adamkit.keras needs Keras 3, which is not installed: pip install 'adamkit[keras]' "
        "(Keras with PyTorch as its backend; run with KERAS_BACKEND=torch)"
    )

try:
    import keras
except ImportError as error:  # Keras is there, its backend is not (TensorFlow by default)
    raise ImportError(
        f"Keras could not start its backend ({error}): set KERAS_BACKEND=torch "
        "(pip install 'adamkit[keras]' brings PyTorch), jax or tensorflow, and install that backend"
    ) from error

if int(keras.__version__.split(".")[0]) < 3:
    raise ImportError(
        f"adamkit.keras needs Keras 3; Keras {keras.__version__} is installed: pip install 'adamkit[keras]'"
    )

from typing import Any  # noqa: E402

from .adam import Adam, AdamW  # noqa: E402
from .adam_variants import SWATS, Adamax, Nadam, RAdam  # noqa: E402
from .baselines import SGD, Adadelta, Adagrad, RMSprop  # noqa: E402
from .modern import AdaBelief, Adafactor, AdEMAMix, Lamb, Lion  # noqa: E402
from .optimizer import RuleOptimizer  # noqa: E402
from .schedulefree import ScheduleFreeAdamW, ScheduleFreeEval  # noqa: E402
from .schedules import ScheduledRate  # noqa: E402

#: The optimizers by lower-case name, as keras.optimizers.get knows its own.
OPTIMIZERS: dict[str, type[RuleOptimizer]] = {
    cls.__name__.lower(): cls
    for cls in (
        *(Adam, AdamW, Adamax, Nadam, RAdam, SGD, RMSprop, Adagrad, Adadelta, SWATS),
        *(Lion, AdEMAMix, AdaBelief, Lamb, Adafactor, ScheduleFreeAdamW),
    )
}

#: Every adamkit class under the name a saved model gives it (``"adamkit>Adam"``), for
#: ``custom_objects=`` and ``keras.saving.custom_object_scope``.
CUSTOM_OBJECTS: dict[str, type] = {
    f"adamkit>{cls.__name__}": cls for cls in (*OPTIMIZERS.values(), ScheduledRate)
}


def get(identifier: str | dict[str, Any] | keras.optimizers.Optimizer) -> RuleOptimizer:
    """adamkit's optimizer for anything ``keras.optimizers.get`` takes.

    Args:
        identifier: a name (``"adam"``, ``"Adagrad"``, ``"SGD"``, case-insensitive; also
            ``"adamkit>Adam"``), a config dict (``{"class_name": "Adam", "config": {...}}``),
            a Keras optimizer (its adamkit twin, with the same config, is returned) or an
            adamkit optimizer (returned as is).

    Raises:
        ValueError: no adamkit optimizer of that name.
    """
    if isinstance(identifier, RuleOptimizer):
        return identifier
    if isinstance(identifier, str):
        return _named(identifier)()
    if isinstance(identifier, dict):
        return _named(identifier["class_name"]).from_config(dict(identifier.get("config", {})))
    if isinstance(identifier, keras.optimizers.Optimizer):
        keras_class = next(
            c for c in type(identifier).__mro__ if c.__module__.startswith("keras.src.optimizers")
        )
        return _named(keras_class.__name__).from_config(identifier.get_config())
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")


def _named(name: str) -> type[RuleOptimizer]:
    key = name.lower().removeprefix("adamkit>")
    if key not in OPTIMIZERS:
        known = ", ".join(cls.__name__ for cls in OPTIMIZERS.values())
        raise ValueError(f"Unknown optimizer {name!r} (adamkit.keras has {known})")
    return OPTIMIZERS[key]


__all__ = [
    "CUSTOM_OBJECTS",
    "OPTIMIZERS",
    "SGD",
    "SWATS",
    "AdEMAMix",
    "AdaBelief",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Lamb",
    "Lion",
    "Nadam",
    "RAdam",
    "RMSprop",
    "RuleOptimizer",
    "ScheduleFreeAdamW",
    "ScheduleFreeEval",
    "ScheduledRate",
    "get",
]
