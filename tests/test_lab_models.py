"""The recipes' models: layers, parameter counts (Keras's summaries) and output shapes for any input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from adamkit.lab.models import MODELS, build


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("name", "shape", "classes", "parameters"),
    [
        # Keras's model.summary() of the articles' models on MNIST
        ("mlp", (1, 28, 28), 10, 784 * 128 + 128 + 128 * 10 + 10),  # 101,770
        ("cnn", (1, 28, 28), 10, 32 * 9 + 32 + 13 * 13 * 32 * 128 + 128 + 128 * 10 + 10),  # 693,962
        ("logistic", (1, 28, 28), 10, 784 * 10 + 10),
        ("2-4-1", (1, 1, 2), 2, 2 * 4 + 4 + 4 * 1 + 1),  # the notes' network: 17 parameters
        ("cnn", (3, 32, 32), 10, 3 * 32 * 9 + 32 + 15 * 15 * 32 * 128 + 128 + 1290),
        ("mlp", (1, 8, 8), 10, 64 * 128 + 128 + 1290),
    ],
)
def test_parameter_counts(name, shape, classes, parameters):
    assert count(build(name, shape, classes)) == parameters


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_logits_for_any_input(name, shape):
    out = build(name, shape, 10)(torch.rand(5, *shape))
    assert out.shape == (5, 10)


def test_two_classes_give_one_output_on_the_2_4_1_network_only():
    assert build("2-4-1", (1, 1, 2), 2)(torch.rand(3, 1, 1, 2)).shape == (3, 1)
    assert build("mlp", (1, 1, 2), 2)(torch.rand(3, 1, 1, 2)).shape == (3, 2)


def test_the_cnn_layers_are_the_articles():
    layers = list(build("cnn", (1, 28, 28), 10))
    kinds = [type(layer).__name__ for layer in layers]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "ReLU", "Linear"]
    conv = layers[0]
    assert (conv.out_channels, conv.kernel_size, conv.padding) == (32, (3, 3), (0, 0))
    assert layers[4].out_features == 128


def test_unknown_model():
    with pytest.raises(ValueError, match="Unknown model 'resnet'; known: mlp, cnn, logistic, 2-4-1"):
        build("resnet", (1, 8, 8), 10)
