"""Claim 5: Adam converges faster than SGD.

Faster is only fair at each optimizer's best rate, so every optimizer runs at the rate the
tunability sweep chose for it on the validation split. We record the training loss of every
step and the time, smooth the loss, and count the steps (and seconds) each needs to reach a
target that all of them reach: the highest of their final smoothed losses.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from .. import models, optimizers
from ..runner import RunConfig, load_tensors, loss_and_hits
from .common import DEPENDS, DOES_NOT_HOLD, HOLDS, Scale, Verdict, fmt

KEY = "faster-than-sgd"
TITLE = "Adam converges faster than SGD"
SENTENCE = (
    "Fast Convergence: Adam often converges faster than traditional gradient descent-based "
    "optimizers, especially on complex loss surfaces."
)
SOURCE = "adam-from-scratch-and-comparison.txt"
EXPERIMENT = (
    "The MLP, batch 32, the same seed and batches, each optimizer at the learning rate chosen for it on "
    "the validation split by the tunability sweep. Training loss per step (smoothed over 20 steps) "
    "against steps and against seconds; steps to reach 1.5 times the highest final smoothed loss."
)
THRESHOLDS = {
    "target_factor": 1.5,  # the target loss: this times the highest final smoothed loss (all reach it)
    "faster": 0.8,  # Adam needs at most 80% of the steps of each SGD: faster...
    "slower": 1.25,  # ...at least 125%: slower; in between, about as fast
}
OPTIMIZERS = ("adam", "sgd", "momentum")
SMOOTHING = 20


def smooth(values: list[float], window: int = SMOOTHING) -> list[float]:
    """Trailing mean over ``window`` values."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def run(name: str, lr: float, config: RunConfig, data: Any, steps: int) -> dict[str, list[float]]:
    torch.manual_seed(config.seed)
    model = models.build(config.model, data.input_shape, data.num_classes)
    optimizer = optimizers.make(name, model, lr)
    shuffle = torch.Generator().manual_seed(config.seed)
    order, position = torch.randperm(len(data.x_train), generator=shuffle), 0
    losses, seconds, started = [], [], time.perf_counter()
    for _ in range(steps):
        if position + config.batch_size > len(order):
            order, position = torch.randperm(len(data.x_train), generator=shuffle), 0
        batch = order[position : position + config.batch_size]
        position += config.batch_size
        optimizer.zero_grad(set_to_none=True)
        loss, _ = loss_and_hits(model(data.x_train[batch]), data.y_train[batch])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        seconds.append(time.perf_counter() - started)
    return {"loss": losses, "smoothed": smooth(losses), "seconds": seconds}


def first_reaching(smoothed: list[float], target: float) -> int | None:
    """The first step (1-based) whose smoothed loss is at most ``target``."""
    return next((i + 1 for i, v in enumerate(smoothed) if v <= target), None)


def measure(scale: Scale, shared: dict[str, Any]) -> dict[str, Any]:
    config = RunConfig(data=scale.data, model="mlp", train_limit=scale.train_limit)
    data = shared.get("data") or load_tensors(config)
    tuned = shared.get("tuned_mlp", {})
    rates = {name: tuned.get(name, optimizers.default_lr(name)) for name in OPTIMIZERS}
    for name in OPTIMIZERS:  # a first step compiles kernels: not the optimizer's speed
        run(name, rates[name], config, data, 2)
    series = {name: run(name, rates[name], config, data, scale.steps) for name in OPTIMIZERS}
    target = THRESHOLDS["target_factor"] * max(s["smoothed"][-1] for s in series.values())
    reached = {}
    for name, s in series.items():
        step = first_reaching(s["smoothed"], target)
        reached[name] = {"steps": step, "seconds": s["seconds"][step - 1] if step else None}
    return {"rates": rates, "series": series, "target": target, "reached": reached, "tuned": bool(tuned)}


def verdict(measured: dict[str, Any]) -> Verdict:
    reached = measured["reached"]
    adam = reached["adam"]["steps"]
    ratios = {
        name: adam / reached[name]["steps"]
        for name in OPTIMIZERS
        if name != "adam" and reached[name]["steps"]
    }
    numbers = {f"steps Adam / {name}": r for name, r in ratios.items()}
    numbers.update({f"{name} steps to target": reached[name]["steps"] for name in OPTIMIZERS})
    rates = "rates tuned on validation" if measured.get("tuned", True) else "default rates (no sweep ran)"
    told = f"at {rates}, to reach loss {fmt(measured['target'])} " + ", ".join(
        f"{name} (lr {measured['rates'][name]:g}) takes {reached[name]['steps']} steps "
        f"({fmt(reached[name]['seconds'] or float('nan'), 2)} s)"
        for name in OPTIMIZERS
    )
    if all(r <= THRESHOLDS["faster"] for r in ratios.values()):
        return Verdict(HOLDS, told + ": Adam needs fewer steps than both SGDs.", numbers)
    if all(r >= THRESHOLDS["slower"] for r in ratios.values()):
        return Verdict(DOES_NOT_HOLD, told + ": at tuned rates both SGDs get there first.", numbers)
    return Verdict(
        f"{DEPENDS} on the SGD and its rate",
        told
        + ": at tuned rates Adam is not faster than every SGD ("
        + ", ".join(f"{fmt(r, 2)} of {name}'s steps" for name, r in ratios.items())
        + ").",
        numbers,
    )


def plot(measured: dict[str, Any], path: Path) -> Path:
    from ..output import save_figure
    from ..report import _pyplot

    pyplot = _pyplot()
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(11, 4), sharey=True)
    for name, s in measured["series"].items():
        label = f"{name} (lr {measured['rates'][name]:g})"
        left.plot(range(1, len(s["smoothed"]) + 1), s["smoothed"], label=label)
        right.plot(s["seconds"], s["smoothed"], label=label)
    for axis, xlabel in ((left, "step"), (right, "seconds")):
        axis.axhline(measured["target"], color="grey", linestyle=":", linewidth=1)
        axis.set(xlabel=xlabel, yscale="log")
        axis.grid(alpha=0.3)
    left.set(ylabel=f"training loss (mean of {SMOOTHING} steps)", title="against steps")
    right.set(title="against seconds (dotted: the target loss)")
    right.legend(fontsize="small")
    figure.tight_layout()
    save_figure(figure, path, dpi=90)
    pyplot.close(figure)
    return path
