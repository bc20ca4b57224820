"""Claim 3: Adam needs little tuning and is robust to its hyperparameters.

DeepOBS-style tunability: sweep the learning rate on a log grid, average the test accuracy
over seeds, and measure the width (in decades) of the set of rates within one point of the
best. A robust optimizer has a wide range. The same sweep also chooses each optimizer's rate
on the validation split (:func:`adamkit.lab.tuning.choose`), which the speed experiment uses.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import tuning
from ..runner import RunConfig, load_tensors, train
from .common import DEPENDS, DOES_NOT_HOLD, HOLDS, Scale, Verdict, fmt

KEY = "little-tuning"
TITLE = "Adam needs little tuning"
SENTENCE = (
    "Robustness: Adam is relatively robust to hyperparameter choices, making it a good choice for "
    "practitioners without extensive hyperparameter tuning experience."
)
SOURCE = "adam-from-scratch-and-comparison.txt"
EXPERIMENT = (
    "The MLP trained at each rate of a log grid with each optimizer, over seeds; per rate the mean "
    "test accuracy. Tunability: the width, in decades of learning rate, of the grid points within "
    "1 point of accuracy of the optimizer's best (each point counts for one grid step)."
)
THRESHOLDS = {
    "within": 0.01,  # accuracy within 1 point of the best counts as "as good"
    "margin_decades": 0.5,  # a width this much wider (narrower) than SGD's decides
}
OPTIMIZERS = ("adam", "sgd", "momentum", "adagrad", "rmsprop")
SGD_FAMILY = ("sgd", "momentum")


def width(grid: list[float], means: list[float], within: float) -> float:
    """Decades of learning rate whose mean accuracy is within ``within`` of the best (one grid step each)."""
    finite = [m for m in means if not math.isnan(m)]
    if not finite:
        return 0.0
    step = (math.log10(grid[-1]) - math.log10(grid[0])) / (len(grid) - 1)
    return step * sum(1 for m in means if not math.isnan(m) and m >= max(finite) - within)


def measure(scale: Scale, shared: dict[str, Any]) -> dict[str, Any]:
    base = RunConfig(data=scale.data, model="mlp", epochs=scale.epochs, train_limit=scale.train_limit)
    data = shared.get("data") or load_tensors(base)
    out: dict[str, Any] = {"grid": list(scale.grid), "seeds": scale.seeds, "optimizers": {}}
    for name in OPTIMIZERS:
        test, val = [], []
        for lr in scale.grid:
            runs = [train(replace(base, optimizer=name, lr=lr, seed=s), data) for s in range(scale.seeds)]
            test.append([r.test_accuracy for r in runs])
            val.append([tuning.validation_score(r) for r in runs])
        out["optimizers"][name] = {
            "test": test,
            "test_mean": [tuning.mean_or_nan(row) for row in test],
            "chosen_on_validation": tuning.choose(scale.grid, val),
        }
    shared["tuned_mlp"] = {name: o["chosen_on_validation"] for name, o in out["optimizers"].items()}
    return out


def verdict(measured: dict[str, Any]) -> Verdict:
    grid, within, margin = measured["grid"], THRESHOLDS["within"], THRESHOLDS["margin_decades"]
    widths = {name: width(grid, o["test_mean"], within) for name, o in measured["optimizers"].items()}
    numbers = {f"{name} width (decades)": w for name, w in widths.items()}
    adam = widths["adam"]
    told = "rates within 1 point of the best span " + ", ".join(f"{n} {fmt(w, 2)}" for n, w in widths.items())
    told += " decades"
    wider = [n for n in SGD_FAMILY if adam >= widths[n] + margin]
    narrower = [n for n in SGD_FAMILY if adam <= widths[n] - margin]
    if len(wider) == len(SGD_FAMILY):
        return Verdict(
            HOLDS, told + ": Adam's range is wider than SGD's, with and without momentum.", numbers
        )
    if len(narrower) == len(SGD_FAMILY):
        return Verdict(DOES_NOT_HOLD, told + ": Adam's range is narrower than SGD's.", numbers)
    if not wider and not narrower:
        return Verdict(
            f"{DEPENDS} on the learning-rate grid",
            told + f": Adam's range is within {margin:g} decade of SGD's; the grid cannot tell them apart.",
            numbers,
        )
    level = [n for n in SGD_FAMILY if n not in wider and n not in narrower]
    compared = [f"wider than {', '.join(wider)}'s"] if wider else []
    compared += [f"narrower than {', '.join(narrower)}'s"] if narrower else []
    compared += [f"within {margin:g} decade of {', '.join(level)}'s"] if level else []
    reason = told + ": Adam's range is " + ", ".join(compared) + "."
    return Verdict(f"{DEPENDS} on the SGD it is compared with", reason, numbers)


def plot(measured: dict[str, Any], path: Path) -> Path:
    from ..output import save_figure
    from ..report import _pyplot

    pyplot = _pyplot()
    figure, axis = pyplot.subplots(figsize=(8, 4.5))
    grid = measured["grid"]
    for i, (name, o) in enumerate(measured["optimizers"].items()):
        color = f"C{i}"
        axis.plot(grid, o["test_mean"], marker="o", color=color, label=name)
        for lr, row in zip(grid, o["test"], strict=True):
            axis.scatter([lr] * len(row), row, color=color, s=8, alpha=0.4)
    axis.set(xscale="log", xlabel="learning rate", ylabel="test accuracy", ylim=(0, 1))
    axis.set_title(
        f"test accuracy against learning rate (line: mean of {measured['seeds']} seeds; dot: a seed)"
    )
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    figure.tight_layout()
    save_figure(figure, path, dpi=90)
    pyplot.close(figure)
    return path
