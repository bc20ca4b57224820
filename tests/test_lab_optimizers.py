"""The lab's optimizer table: names to classes, default rates, groups, and what a run reports it uses."""

from __future__ import annotations

import pytest
import torch

import adamkit.torch
from adamkit.lab import optimizers
from adamkit.lab.models import build

KERAS_RATES = {"adam": 1e-3, "sgd": 1e-2, "adagrad": 1e-3, "rmsprop": 1e-3, "adamax": 1e-3, "nadam": 1e-3}


@pytest.fixture
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build("mlp", (1, 8, 8), 10)


@pytest.mark.parametrize("name", list(optimizers.OPTIMIZERS))
def test_every_name_builds_its_adamkit_class(name, model):
    spec = optimizers.OPTIMIZERS[name]
    opt = optimizers.make(name, model)
    assert type(opt) is getattr(adamkit.torch, spec.class_name)
    assert all(group["lr"] == spec.lr for group in opt.param_groups)


@pytest.mark.parametrize("name", [n for n in optimizers.known_names() if n.startswith("torch-")])
def test_torch_names_build_torch_optim_with_the_same_settings(name, model):
    ours = optimizers.make(name.removeprefix("torch-"), model)
    peer = optimizers.make(name, model)
    assert type(peer).__module__.startswith("torch.optim")
    assert type(peer).__name__ == type(ours).__name__
    for a, b in zip(ours.param_groups, peer.param_groups, strict=True):
        shared = set(a) & set(b) - {"params", "foreach", "fused", "capturable", "differentiable"}
        assert {k: a[k] for k in shared} == {k: b[k] for k in shared}


def test_default_rates_are_keras_and_adadelta_is_one():
    assert {n: optimizers.default_lr(n) for n in KERAS_RATES} == KERAS_RATES
    assert optimizers.default_lr("adadelta") == 1.0
    assert optimizers.default_lr("torch-sgd") == 1e-2


def test_options_of_the_variants(model):
    assert optimizers.make("amsgrad", model).param_groups[0]["amsgrad"] is True
    assert optimizers.make("momentum", model).param_groups[0]["momentum"] == 0.9
    assert optimizers.make("sgd", model).param_groups[0]["momentum"] == 0
    assert optimizers.make("adam", model, lr=0.5).param_groups[0]["lr"] == 0.5


def test_weight_decay_splits_matrices_from_biases(model):
    opt = optimizers.make("adamw", model)
    decay, no_decay = opt.param_groups
    assert [p.shape for p in decay["params"]] == [(128, 64), (10, 128)]
    assert [p.shape for p in no_decay["params"]] == [(128,), (10,)]
    assert (decay["weight_decay"], no_decay["weight_decay"]) == (1e-2, 0.0)
    assert len(optimizers.make("adam", model).param_groups) == 1


def test_unknown_names(model):
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adamm'; known: adam, adamw"):
        optimizers.make("adamm", model)
    assert "torch-swats" not in optimizers.known_names()  # torch.optim has no SWATS
    with pytest.raises(ValueError, match="Unknown optimizer"):
        optimizers.resolve("torch-")


def test_describe_names_class_engine_precision_and_groups(model):
    lines = optimizers.describe("adamw", optimizers.make("adamw", model))
    assert lines[0].startswith("adamw: adamkit.torch.AdamW, engine adamkit ")
    assert "state float32" in lines[0]
    assert lines[1].startswith("  group 0: 2 tensors, 9,472 values; lr=0.001, ")
    assert "weight_decay=0.01" in lines[1]
    assert lines[2].startswith("  group 1: 2 tensors, 138 values; lr=0.001, ")
    peer = optimizers.describe("torch-adam", optimizers.make("torch-adam", model))
    assert peer[0].startswith("torch-adam: torch.optim.Adam, engine torch.optim ")


def test_declared_state_precision_wins(model):
    opt = optimizers.make("adam8", model)
    assert opt.param_groups[0]["state_bits"] == 8
    assert optimizers.state_precision_of(opt) == opt.state_precision
    assert "8-bit" in optimizers.state_precision_of(opt)
    assert "bfloat16" in optimizers.state_precision_of(optimizers.make("adam16", model))
    assert optimizers.state_precision_of(optimizers.make("adam", model)).startswith("float32")
    assert "torch-adam8" not in optimizers.known_names()
    assert "adam8" not in optimizers.numpy_names() and "adam" in optimizers.numpy_names()


def test_low_bit_names_of_the_fused_families(model):
    opt = optimizers.make("rmsprop8", model)
    assert type(opt).__name__ == "RMSprop" and opt.param_groups[0]["state_bits"] == 8
    momentum16 = optimizers.make("momentum16", model).param_groups[0]
    assert (momentum16["momentum"], momentum16["state_bits"]) == (0.9, 16)
    assert {"nadam8", "adamw16", "amsgrad8"} <= set(optimizers.known_names())
    assert "swats8" not in optimizers.known_names() and "torch-nadam8" not in optimizers.known_names()
