"""The backend's tensors that the rules compute on, under every backend's compiled step.

The rules work on any array module (:func:`adamkit.rules.spec.namespace`), and take their
scalars (learning rate, ``step``) as 0-d tensors here, so one update traces under
``tf.function`` (graph and XLA), ``jax.jit`` and ``torch.compile`` as it runs eagerly:
nothing is read back to the host.
"""

from __future__ import annotations

import contextlib
from typing import Any

import keras


def value_of(variable: Any) -> Any:
    """The backend tensor of a Keras variable, or of the raw ``tf.Variable`` TensorFlow's optimizer passes."""
    if isinstance(variable, keras.Variable):
        return variable.value
    return keras.ops.convert_to_tensor(variable)


def as_dtype(x: Any, dtype: str) -> Any:
    """``x`` cast to ``dtype`` (a Keras dtype name); no operation when it has that dtype already."""
    if keras.backend.standardize_dtype(x.dtype) == dtype:
        return x
    return keras.ops.cast(x, dtype)


def outside_autograd() -> contextlib.AbstractContextManager:
    """``torch.no_grad()`` on the torch backend (model weights require grad there), else nothing."""
    if keras.backend.backend() == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()
