"""Claim 7: Adam may generalise worse than SGD with momentum; SWATS fixes it.

Wilson et al. (2017) found adaptive methods reach lower test accuracy than well-tuned SGD
with momentum on image classification; Keskar and Socher's SWATS (2017) starts as Adam and
switches to SGD once its rate estimate settles. We train the CNN with the three, each at the
rate chosen for it on the validation split, and compare train and test accuracy over seeds.
SWATS's switch step, per parameter tensor, is read from the optimizer after training.

The article's claim is about CIFAR: the experiment runs on the scale's data set (Fashion-MNIST,
or the digits when quick) and, at the scales that allow it, on CIFAR-10 too when the data
package finds its files (``$ADAMKIT_DATA/cifar10/``, the user cache). It never downloads them:
the page says where it looked and how to get them. Each data set gets its own verdict against
the same thresholds; the claim's verdict is theirs when they agree, "depends on the data set"
when they do not.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...data import DATASETS, DataError, load
from .. import tuning
from ..runner import RunConfig, Tensors, load_tensors, train
from .common import DEPENDS, DOES_NOT_HOLD, HOLDS, Scale, Verdict, fmt

KEY = "generalisation"
TITLE = "Adam may generalise worse than SGD with momentum (SWATS)"
SENTENCE = (
    "Recent research has raised concerns about the generalization capabilities of the Adam optimizer "
    "in deep learning, indicating that it may not always converge to optimal solutions, particularly "
    "in tasks like image classification on CIFAR datasets."
)
SOURCE = "adam-from-scratch-and-comparison.txt"
EXPERIMENT = (
    "The CNN (Conv 32 3x3, MaxPool, Dense 128), batch 32, with Adam, SGD with momentum 0.9 and SWATS; "
    "each rate chosen on the validation split from three (one seed), then the final seeds. Train "
    "accuracy (last epoch), test accuracy, and SWATS's switch steps. On the run's data set, and on "
    "CIFAR-10 too when its files are found (never downloaded here; the quick run skips it): a verdict "
    "per data set, the claim's when they agree."
)
THRESHOLDS = {
    "gap": 0.01,  # momentum's test accuracy at least 1 point above Adam's: Adam generalises worse
    "recovered": 0.5,  # SWATS wins back at least half of that gap: it fixes it
}
GRIDS = {"adam": (1e-4, 1e-3, 1e-2), "momentum": (1e-3, 1e-2, 1e-1), "swats": (1e-4, 1e-3, 1e-2)}
CIFAR10 = "cifar10"


def measure(scale: Scale, shared: dict[str, Any]) -> dict[str, Any]:
    """The experiment on the scale's data set, then on CIFAR-10 where the scale allows and it is found.

    Returns ``{"data_sets": {name: one data set's numbers}, "notes": [...]}``; a note says where
    CIFAR-10 came from, or why it was not run.
    """
    base = RunConfig(data=scale.data, model="cnn", epochs=scale.cnn_epochs, train_limit=scale.train_limit)
    data = shared.get("data") or load_tensors(base)
    out: dict[str, Any] = {"data_sets": {scale.data: measure_on(base, data, scale.seeds)}, "notes": []}
    if not scale.cifar10:
        out["notes"].append(
            f"CIFAR-10 is not run at the {scale.name} scale (it stays on {DATASETS[scale.data].title}); "
            "the full run (adamkit claims) adds it when its files are found."
        )
        return out
    cifar, note = find_cifar10(base.validation, scale.train_limit)
    out["notes"].append(note)
    if cifar is not None:
        out["data_sets"][CIFAR10] = measure_on(replace(base, data=CIFAR10), cifar, scale.seeds)
    return out


def find_cifar10(validation: float, train_limit: int | None) -> tuple[Tensors | None, str]:
    """CIFAR-10 where the data package finds it (never downloaded), and a sentence for the page."""
    try:
        found = load(CIFAR10, seed=0, validation=validation, download=False)
    except DataError as error:  # absent, incomplete or corrupt: its message says where and how
        return None, f"CIFAR-10 was not run (claims never download it). {error}"
    return Tensors.from_dataset(found, train_limit), f"CIFAR-10 read from {found.source}."


def measure_on(base: RunConfig, data: Tensors, seeds: int) -> dict[str, Any]:
    """Each optimizer tuned on ``data``'s validation split, then trained over ``seeds`` seeds."""
    steps_per_epoch = math.ceil(len(data.x_train) / base.batch_size)
    out: dict[str, Any] = {
        "title": DATASETS[base.data].title,
        "train_size": len(data.x_train),
        "steps_per_epoch": steps_per_epoch,
        "optimizers": {},
    }
    for name, grid in GRIDS.items():
        found = tuning.tune_lr(base, name, grid, 1, data)
        switches: list[int] = []

        def read_switches(optimizer: Any, into: list[int] = switches) -> None:
            if hasattr(optimizer, "switches"):
                into.extend(s.step for s in optimizer.switches() if s.switched)

        runs = [
            train(replace(base, optimizer=name, lr=found.chosen, seed=s), data, on_end=read_switches)
            for s in range(seeds)
        ]
        out["optimizers"][name] = {
            "lr": found.chosen,
            "search": found.means,
            "train_accuracy": [r.history[-1].train_accuracy for r in runs],
            "test_accuracy": [r.test_accuracy for r in runs],
            "train_curve": [
                statistics.fmean(r.history[e].train_accuracy for r in runs) for e in range(base.epochs)
            ],
            "val_curve": [
                statistics.fmean(r.history[e].val_accuracy or 0.0 for r in runs) for e in range(base.epochs)
            ],
            "switch_steps": switches,
        }
    return out


def verdict(measured: dict[str, Any]) -> Verdict:
    """Each data set's verdict; the claim's is theirs when they agree, else it depends on the data set."""
    found = {one["title"]: verdict_on(one) for one in measured["data_sets"].values()}
    outcomes = {v.outcome for v in found.values()}
    outcome = outcomes.pop() if len(outcomes) == 1 else f"{DEPENDS} on the data set"
    reason = " ".join(f"{title}: {v.outcome}; {v.reason}" for title, v in found.items())
    numbers = {f"{title}: {key}": value for title, v in found.items() for key, value in v.numbers.items()}
    return Verdict(outcome, reason, numbers)


def verdict_on(measured: dict[str, Any]) -> Verdict:
    """The verdict of one data set's numbers (``measure_on``'s) against :data:`THRESHOLDS`."""
    test = {name: statistics.fmean(o["test_accuracy"]) for name, o in measured["optimizers"].items()}
    train_ = {name: statistics.fmean(o["train_accuracy"]) for name, o in measured["optimizers"].items()}
    gap = test["momentum"] - test["adam"]
    recovered = test["swats"] - test["adam"]
    numbers = {f"{name} test accuracy": v for name, v in test.items()}
    numbers.update({f"{name} train - test": train_[name] - test[name] for name in test})
    switches = measured["optimizers"]["swats"]["switch_steps"]
    told = "mean test accuracy " + ", ".join(
        f"{name} {fmt(v, 4)} (train {fmt(train_[name], 4)}, lr {measured['optimizers'][name]['lr']:g})"
        for name, v in test.items()
    )
    told += (
        f"; SWATS switched to SGD at steps {min(switches)}-{max(switches)}"
        if switches
        else "; SWATS never switched"
    )
    if gap < THRESHOLDS["gap"]:
        return Verdict(
            DOES_NOT_HOLD,
            told
            + f": Adam's test accuracy is within {THRESHOLDS['gap'] * 100:g} point of momentum's or above.",
            numbers,
        )
    if recovered >= THRESHOLDS["recovered"] * gap:
        return Verdict(
            HOLDS, told + ": momentum generalises better than Adam and SWATS wins back the gap.", numbers
        )
    return Verdict(
        f"{DEPENDS} on the fix",
        told + ": momentum generalises better than Adam, but SWATS does not win back half of the gap.",
        numbers,
    )


def plot(measured: dict[str, Any], path: Path) -> Path:
    """A row per data set: train and validation accuracy by epoch (SWATS's switches dotted), test accuracy."""
    from ..output import save_figure
    from ..report import _pyplot

    pyplot = _pyplot()
    rows = list(measured["data_sets"].values())
    figure, axes = pyplot.subplots(len(rows), 2, figsize=(11, 4 * len(rows)), squeeze=False)
    for one, (left, right) in zip(rows, axes, strict=True):
        plot_data_set(one, left, right)
    figure.tight_layout()
    save_figure(figure, path, dpi=90)
    pyplot.close(figure)
    return path


def plot_data_set(measured: dict[str, Any], left: Any, right: Any) -> None:
    per_epoch = measured["steps_per_epoch"]
    for i, (name, o) in enumerate(measured["optimizers"].items()):
        epochs = range(1, len(o["train_curve"]) + 1)
        left.plot(epochs, o["train_curve"], color=f"C{i}", label=f"{name} train")
        left.plot(epochs, o["val_curve"], color=f"C{i}", linestyle="--", label=f"{name} validation")
        for step in sorted(set(o["switch_steps"])):
            left.axvline(step / per_epoch, color=f"C{i}", linestyle=":", linewidth=0.8)
        right.scatter([i] * len(o["test_accuracy"]), o["test_accuracy"], color=f"C{i}", s=18)
        right.bar([i], [statistics.fmean(o["test_accuracy"])], color=f"C{i}", alpha=0.4)
    title = measured["title"]
    left.set(xlabel="epoch", ylabel="accuracy")
    left.set_title(f"{title}: train and validation (dotted: SWATS's switches)")
    left.legend(fontsize="x-small")
    names = list(measured["optimizers"])
    right.set_xticks(range(len(names)), names)
    tests = [v for o in measured["optimizers"].values() for v in o["test_accuracy"]]
    right.set(ylabel="test accuracy", ylim=(max(0.0, min(tests) - 0.05), min(1.0, max(tests) + 0.02)))
    right.set_title(f"{title}: test accuracy (bar: mean; dot: a seed)")
    for axis in (left, right):
        axis.grid(alpha=0.3)
