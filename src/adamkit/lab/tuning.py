"""Learning-rate tuning on the validation split, so that a comparison compares optimizers at their best.

An optimizer run at another's default rate (SGD at 1e-2, AdaGrad at 1e-3 on the digits) loses
for its rate, not for its rule. :func:`tune_lr` trains each grid rate over a few seeds, scores
each by its mean *validation* accuracy after the last epoch (the test split is never looked at),
and :func:`choose` picks the best: the chosen rate is then used for the final seeded runs.

The grid is log-spaced: ``--tune lr`` takes :data:`DEFAULT_GRID` (1e-4 to 1e-1, 7 points),
``--tune lr=1e-4:1e-1:7`` says its ends and its number of points.

>>> parse_tune_spec("lr=1e-3:1e-1:3")
(0.001, 0.01, 0.1)
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .runner import RunConfig, RunResult, Tensors, train

#: ``--tune lr``'s grid: 1e-4 to 1e-1, two points a decade and one more.
DEFAULT_SPEC = "lr=1e-4:1e-1:7"


def log_grid(low: float, high: float, points: int) -> tuple[float, ...]:
    """``points`` rates from ``low`` to ``high``, evenly spaced in log (rounded to 4 significant digits)."""
    if not (0 < low < high and math.isfinite(high)):
        raise ValueError(f"learning-rate grid ends must satisfy 0 < low < high; got low={low}, high={high}")
    if points < 2:
        raise ValueError(f"learning-rate grid points must be >= 2; got {points}")
    step = (math.log10(high) - math.log10(low)) / (points - 1)
    return tuple(float(f"{10 ** (math.log10(low) + i * step):.4g}") for i in range(points))


def parse_tune_spec(text: str) -> tuple[float, ...]:
    """``lr`` (the default grid) or ``lr=LOW:HIGH:POINTS``: the grid of learning rates to try."""
    spec = text.strip().lower()
    if spec == "lr":
        spec = DEFAULT_SPEC
    name, _, grid = spec.partition("=")
    if name != "lr":
        raise ValueError(
            f"--tune: only the learning rate is tuned: 'lr' or 'lr=LOW:HIGH:POINTS'; got {text!r}"
        )
    parts = grid.split(":")
    if len(parts) != 3:
        raise ValueError(f"--tune: expected lr=LOW:HIGH:POINTS (e.g. {DEFAULT_SPEC}); got {text!r}")
    try:
        low, high, points = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise ValueError(
            f"--tune: LOW and HIGH must be numbers and POINTS an integer; got {text!r}"
        ) from None
    return log_grid(low, high, points)


def tune_argument(text: str) -> tuple[float, ...]:
    """argparse type for ``--tune``."""
    try:
        return parse_tune_spec(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--tune: ")) from None


@dataclass
class Tuning:
    """One optimizer's search: per grid rate, the validation accuracy of each seed, and the choice."""

    optimizer: str
    grid: tuple[float, ...]
    scores: list[list[float]]  # scores[i][s]: rate grid[i], seed s; NaN for a diverged run
    chosen: float

    @property
    def means(self) -> list[float]:
        return [mean_or_nan(row) for row in self.scores]


def mean_or_nan(values: Sequence[float]) -> float:
    """The mean, NaN if any value is NaN (a seed that diverged makes its rate a bad rate)."""
    return statistics.fmean(values) if values and not any(math.isnan(v) for v in values) else math.nan


def choose(grid: Sequence[float], scores: Sequence[Sequence[float]]) -> float:
    """The grid rate with the best mean validation accuracy; on a tie the smaller rate (the safer one).

    A rate whose runs diverged (NaN) is never chosen unless every rate diverged (then the smallest).
    """
    means = [mean_or_nan(row) for row in scores]
    finite = [i for i in range(len(grid)) if not math.isnan(means[i])]
    if not finite:
        return min(grid)
    return grid[max(finite, key=lambda i: (means[i], -grid[i]))]


def validation_score(result: RunResult) -> float:
    """The last epoch's validation accuracy (NaN if the run diverged or has no validation split)."""
    value = result.history[-1].val_accuracy if result.history else None
    if value is None or (result.history and not math.isfinite(result.history[-1].train_loss)):
        return math.nan
    return float(value)


def tune_lr(
    base: RunConfig,
    optimizer: str,
    grid: Sequence[float],
    seeds: int,
    data: Tensors,
    on_run: Callable[[], None] | None = None,
) -> Tuning:
    """Train ``optimizer`` at each ``grid`` rate with seeds ``0..seeds-1``; choose on validation accuracy."""
    if len(data.x_val) == 0:
        raise ValueError("tuning needs a validation split: validation must be > 0")
    scores = []
    for lr in grid:
        row = []
        for seed in range(seeds):
            row.append(validation_score(train(replace(base, optimizer=optimizer, lr=lr, seed=seed), data)))
            if on_run is not None:
                on_run()
        scores.append(row)
    return Tuning(optimizer, tuple(grid), scores, choose(grid, scores))


def plot_sensitivity(
    tunings: Sequence[Tuning], path: Path, title: str, metric: str = "validation accuracy"
) -> Path:
    """Mean score against learning rate (log axis) per optimizer, each seed a dot, the chosen rate ringed."""
    from .output import save_figure
    from .report import _pyplot

    pyplot = _pyplot()
    figure, axis = pyplot.subplots(figsize=(8, 4.5))
    for i, tuning in enumerate(tunings):
        color = f"C{i % 10}"
        axis.plot(
            tuning.grid,
            tuning.means,
            marker="o",
            color=color,
            label=f"{tuning.optimizer} (chosen {tuning.chosen:g})",
        )
        for lr, row in zip(tuning.grid, tuning.scores, strict=True):
            axis.scatter([lr] * len(row), row, color=color, s=8, alpha=0.5)
        chosen = tuning.grid.index(tuning.chosen)
        axis.scatter(
            [tuning.chosen], [tuning.means[chosen]], s=160, facecolors="none", edgecolors=color, linewidths=2
        )
    axis.set_xscale("log")
    axis.set_xlabel("learning rate")
    axis.set_ylabel(metric)
    axis.set_title(f"{title}\nline: mean over seeds; dot: one seed; ring: the chosen rate", fontsize="medium")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    figure.tight_layout()
    save_figure(figure, path, dpi=100)
    pyplot.close(figure)
    return path
