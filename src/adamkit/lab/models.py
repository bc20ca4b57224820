"""The models of the reference recipes, built for any input shape and number of classes.

Every model maps a batch ``N x C x H x W`` to logits ``N x K`` (softmax and the loss are
the runner's job, as ``CrossEntropyLoss`` fuses them). A model with one output unit is a
binary classifier; the runner scores it with a sigmoid and binary cross-entropy.

* ``mlp``: Flatten, Dense 128 ReLU, Dense K (the Keras MNIST article).
* ``cnn``: Conv 32 3x3 ReLU, MaxPool 2, Flatten, Dense 128 ReLU, Dense K (the comparison
  article's CNN, with the Flatten its code forgot).
* ``logistic``: Flatten, Dense K: multinomial logistic regression.
* ``2-4-1``: Flatten, Dense 4 ReLU, Dense 1 for two classes (K otherwise): the PyTorch
  notes' small network.

>>> model = build("cnn", input_shape=(1, 28, 28), num_classes=10)
>>> sum(p.numel() for p in model.parameters())
693962
"""

from __future__ import annotations

import math
from collections.abc import Callable

from torch import nn

Shape = tuple[int, ...]


def mlp(input_shape: Shape, num_classes: int) -> nn.Module:
    """Flatten, Dense 128 ReLU, Dense ``num_classes``."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(math.prod(input_shape), 128), nn.ReLU(), nn.Linear(128, num_classes)
    )


def cnn(input_shape: Shape, num_classes: int) -> nn.Module:
    """Conv 32 3x3 (valid) ReLU, MaxPool 2, Flatten, Dense 128 ReLU, Dense ``num_classes``."""
    channels, height, width = input_shape
    pooled = ((height - 2) // 2) * ((width - 2) // 2)
    return nn.Sequential(
        nn.Conv2d(channels, 32, kernel_size=3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * pooled, 128),
        nn.ReLU(),
        nn.Linear(128, num_classes),
    )


def logistic(input_shape: Shape, num_classes: int) -> nn.Module:
    """Flatten, Dense ``num_classes``: (multinomial) logistic regression."""
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), num_classes))


def net_2_4_1(input_shape: Shape, num_classes: int) -> nn.Module:
    """Flatten, Dense 4 ReLU, Dense 1 (two classes) or ``num_classes``: the 2-4-1 network."""
    outputs = 1 if num_classes == 2 else num_classes
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), 4), nn.ReLU(), nn.Linear(4, outputs))


#: Model name -> builder ``(input_shape, num_classes) -> nn.Module``.
MODELS: dict[str, Callable[[Shape, int], nn.Module]] = {
    "mlp": mlp,
    "cnn": cnn,
    "logistic": logistic,
    "2-4-1": net_2_4_1,
}


def build(name: str, input_shape: Shape, num_classes: int) -> nn.Module:
    """The model ``name`` (see :data:`MODELS`) for inputs of ``input_shape`` (C, H, W)."""
    try:
        builder = MODELS[name]
    except KeyError:
        raise ValueError(f"Unknown model {name!r}; known: {', '.join(MODELS)}") from None
    return builder(tuple(input_shape), num_classes)
