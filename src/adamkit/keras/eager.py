"""Reading a backend value as a Python number, and running an update outside autograd.

The rules take scalars (the learning rate, ``step``, Nadam's ``mu_product``, SWATS's
switch) as Python numbers and branch on them, so the Keras front end reads those
values on the host before each update. That needs concrete values: the torch backend
always runs optimizers eagerly; JAX and TensorFlow trace the training step unless the
model is compiled with ``run_eagerly=True``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import keras

EAGER_HINT = (
    "adamkit.keras optimizers read their scalars (learning rate, step) as Python numbers, "
    "so they run eagerly: on the {backend} backend compile the model with run_eagerly=True"
)


def host_number(value: Any) -> float:
    """``value`` (a Python number, a backend scalar tensor or a Keras variable) as a float."""
    if isinstance(value, keras.Variable):
        value = value.value
    try:
        return float(value)
    # Each backend raises its own type for a traced value (jax's ConcretizationTypeError,
    # TensorFlow's NotImplementedError or OperatorNotAllowedInGraphError): say what to do.
    except Exception as error:
        raise RuntimeError(EAGER_HINT.format(backend=keras.backend.backend())) from error


def outside_autograd() -> contextlib.AbstractContextManager:
    """``torch.no_grad()`` on the torch backend (model weights require grad there), else nothing."""
    if keras.backend.backend() == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()
