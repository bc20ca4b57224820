"""Claim 8: Adam is memory-light, with two moving averages per parameter.

We build each optimizer over a layer of a million values, take one step, and add up the
bytes of every tensor in its state (per parameter). Two float32 averages are 8 bytes a
parameter; SGD with momentum keeps one (4 bytes), plain SGD none; adamkit's 16- and 8-bit
state store the same two averages in 4 and about 2 bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .. import optimizers
from .common import DOES_NOT_HOLD, HOLDS, Scale, Verdict, fmt

KEY = "memory"
TITLE = "Adam is memory-light: two moving averages per parameter"
SENTENCE = (
    "Low Memory Requirements: Unlike some optimization algorithms that require storing a history of "
    "gradients for each parameter, Adam only needs to maintain two moving averages per parameter."
)
SOURCE = "adam-from-scratch-and-comparison.txt"
EXPERIMENT = (
    "Each optimizer over a 1000 x 1000 linear layer (1,001,000 float32 values), one step on a random "
    "batch, then the bytes of every tensor in optimizer.state divided by the number of parameters."
)
THRESHOLDS = {"two_averages": (7.9, 8.1)}  # float32 Adam's bytes per parameter: two 4-byte averages
OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam", "torch-adam", "amsgrad", "adam16", "adam8")


def state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of every tensor the optimizer keeps between steps."""
    total = 0
    for state in optimizer.state.values():
        for value in state.values():
            if isinstance(value, torch.Tensor):
                total += value.numel() * value.element_size()
    return total


def measure(scale: Scale, shared: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"optimizers": {}}
    for name in OPTIMIZERS:
        torch.manual_seed(0)
        layer = torch.nn.Linear(1000, 1000)
        optimizer = optimizers.make(name, layer)
        layer(torch.randn(8, 1000)).square().mean().backward()
        optimizer.step()
        count = sum(p.numel() for p in layer.parameters())
        out["optimizers"][name] = {
            "bytes_per_parameter": state_bytes(optimizer) / count,
            "precision": optimizers.state_precision_of(optimizer),
        }
    return out


def verdict(measured: dict[str, Any]) -> Verdict:
    low, high = THRESHOLDS["two_averages"]
    rows = measured["optimizers"]
    adam = rows["adam"]["bytes_per_parameter"]
    numbers = {name: row["bytes_per_parameter"] for name, row in rows.items()}
    told = "optimizer state in bytes per parameter: " + ", ".join(
        f"{name} {fmt(row['bytes_per_parameter'])}" for name, row in rows.items()
    )
    if low <= adam <= high:
        return Verdict(
            HOLDS,
            told + ": float32 Adam keeps exactly two averages (8 bytes), twice SGD with momentum; "
            "light next to a gradient history, and lighter still in 16 or 8 bits.",
            numbers,
        )
    return Verdict(
        DOES_NOT_HOLD, told + f": Adam's state is not two float32 averages ({low}-{high} bytes).", numbers
    )


def plot(measured: dict[str, Any], path: Path) -> Path:
    from ..output import save_figure
    from ..report import _pyplot

    pyplot = _pyplot()
    figure, axis = pyplot.subplots(figsize=(8, 4))
    names = list(measured["optimizers"])
    values = [measured["optimizers"][n]["bytes_per_parameter"] for n in names]
    axis.bar(
        range(len(names)), values, color=["C0" if "adam" in n or n == "amsgrad" else "C7" for n in names]
    )
    for i, v in enumerate(values):
        axis.annotate(f"{v:.2f}", (i, v), ha="center", va="bottom", fontsize="small")
    axis.set_xticks(range(len(names)), names, rotation=30, ha="right")
    axis.set(ylabel="state bytes per parameter", title="optimizer state, measured after one step")
    axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    save_figure(figure, path, dpi=90)
    pyplot.close(figure)
    return path
