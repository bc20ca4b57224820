"""The comparison report: a summary per optimizer, plots with a band over seeds, one HTML page.

From a list of :class:`~adamkit.lab.runner.RunResult` (several optimizers, several seeds
each) :func:`write_report` writes into a folder:

* ``loss.png`` and ``accuracy.png``: training and validation curves per epoch, the mean
  over seeds as a line and the band from the lowest to the highest seed;
* ``test_accuracy.png``: final test accuracy per optimizer, a bar at the mean, a whisker
  from the lowest to the highest seed, and a dot per seed;
* ``summary.csv`` and ``summary.json``: the numbers of the table;
* ``report.html``: one self-contained page (the plots inlined as base64 ``data:`` URIs,
  no script, no outside file), to open, mail or archive as it is.

Each file is written whole or not at all (:mod:`adamkit.atomic`), and the page last: a folder
with a ``report.html`` holds everything it describes.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import math
import statistics
import textwrap
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..atomic import atomic_open, atomic_write_text
from .output import PLOTS, REPORT_PAGE, RUNS_FOLDER, save_figure
from .runner import RunResult


@dataclass(frozen=True)
class Summary:
    """One optimizer's scores over its seeds."""

    optimizer: str
    lr: float
    seeds: int
    test_accuracy_mean: float
    test_accuracy_std: float  # sample standard deviation (0 for one seed)
    test_accuracy_min: float
    test_accuracy_max: float
    test_loss_mean: float
    val_accuracy_mean: float | None
    train_loss_mean: float
    seconds_mean: float
    engine: str


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def by_optimizer(results: Sequence[RunResult]) -> dict[str, list[RunResult]]:
    """The runs grouped by optimizer name, in the order first seen."""
    groups: dict[str, list[RunResult]] = {}
    for result in results:
        groups.setdefault(result.config.optimizer, []).append(result)
    return groups


def summarize(results: Sequence[RunResult]) -> list[Summary]:
    """One :class:`Summary` per optimizer, ranked by mean test accuracy (best first)."""
    rows = []
    for name, runs in by_optimizer(results).items():
        accuracy = [r.test_accuracy for r in runs]
        rows.append(
            Summary(
                optimizer=name,
                lr=runs[0].lr,
                seeds=len(runs),
                test_accuracy_mean=statistics.fmean(accuracy),
                test_accuracy_std=statistics.stdev(accuracy) if len(runs) > 1 else 0.0,
                test_accuracy_min=min(accuracy),
                test_accuracy_max=max(accuracy),
                test_loss_mean=statistics.fmean(r.test_loss for r in runs),
                val_accuracy_mean=_mean([r.history[-1].val_accuracy for r in runs]),
                train_loss_mean=statistics.fmean(r.history[-1].train_loss for r in runs),
                seconds_mean=statistics.fmean(r.seconds for r in runs),
                engine=runs[0].engine,
            )
        )
    # a diverged run (NaN) ranks last
    return sorted(rows, key=lambda row: (math.isnan(row.test_accuracy_mean), -row.test_accuracy_mean))


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: never open a window
    from matplotlib import pyplot

    return pyplot


def colors(results: Sequence[RunResult]) -> dict[str, str]:
    """One colour per optimizer, the same in every plot."""
    return {name: f"C{i % 10}" for i, name in enumerate(by_optimizer(results))}


def _curve_band(
    runs: Sequence[RunResult], key: str
) -> tuple[list[int], list[float], list[float], list[float]]:
    """Epochs, and per epoch the mean, lowest and highest value of ``key`` over the seeds."""
    epochs = [record.epoch for record in runs[0].history]
    mean, low, high = [], [], []
    for i in range(len(epochs)):
        values = [getattr(r.history[i], key) for r in runs]
        values = [v for v in values if v is not None]
        mean.append(statistics.fmean(values) if values else float("nan"))
        low.append(min(values) if values else float("nan"))
        high.append(max(values) if values else float("nan"))
    return epochs, mean, low, high


def plot_curves(results: Sequence[RunResult], metric: str, path: Path, title: str) -> Path:
    """Training and validation ``metric`` (``loss`` or ``accuracy``) per epoch, side by side."""
    pyplot = _pyplot()
    from matplotlib.ticker import MaxNLocator

    color = colors(results)
    figure, axes = pyplot.subplots(1, 2, figsize=(11, 4), sharey=True)
    for axis, split in zip(axes, ("train", "val"), strict=True):
        for name, runs in by_optimizer(results).items():
            epochs, mean, low, high = _curve_band(runs, f"{split}_{metric}")
            axis.plot(epochs, mean, marker="o", markersize=3, label=name, color=color[name])
            axis.fill_between(epochs, low, high, color=color[name], alpha=0.2, linewidth=0)
        axis.set_title(f"{'training' if split == 'train' else 'validation'} {metric}")
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        if metric == "loss":
            axis.set_yscale("log")
    axes[0].set_ylabel(metric)
    axes[1].legend(title="line: mean; band: min-max over seeds", fontsize="small", loc="best")
    figure.suptitle(title)
    figure.tight_layout()
    save_figure(figure, path, dpi=100)
    pyplot.close(figure)
    return path


def plot_test_accuracy(results: Sequence[RunResult], path: Path, title: str) -> Path:
    """Bars of the mean test accuracy, min-max whiskers, and each seed's accuracy as a dot."""
    pyplot = _pyplot()
    rows = summarize(results)
    groups = by_optimizer(results)
    color = colors(results)
    figure, axis = pyplot.subplots(figsize=(max(7.0, 1.3 * len(rows) + 2), 4.5))
    positions = range(len(rows))
    means = [row.test_accuracy_mean for row in rows]
    spread = [
        [row.test_accuracy_mean - row.test_accuracy_min for row in rows],
        [row.test_accuracy_max - row.test_accuracy_mean for row in rows],
    ]
    bar_colors = [color[row.optimizer] for row in rows]
    axis.bar(positions, means, color=bar_colors, alpha=0.45, yerr=spread, capsize=6)
    for i, row in enumerate(rows):
        seeds = [r.test_accuracy for r in groups[row.optimizer]]
        axis.scatter([i] * len(seeds), seeds, color=color[row.optimizer], edgecolor="k", s=18, zorder=3)
        axis.annotate(
            f"{row.test_accuracy_mean:.4f}",
            (i, row.test_accuracy_max),
            ha="center",
            va="bottom",
            xytext=(0, 4),
            textcoords="offset points",
            fontsize="small",
        )
    axis.set_xticks(list(positions), [row.optimizer for row in rows])
    finite = [v for row in rows for v in (row.test_accuracy_min, row.test_accuracy_max) if math.isfinite(v)]
    if finite:  # zoom on the bars' tops, where the differences are
        low, high = min(finite), max(finite)
        margin = 0.3 * (high - low) + 0.02
        axis.set_ylim(max(0.0, low - margin), min(1.0, high + margin))
    axis.set_ylabel("test accuracy")
    heading = textwrap.fill(title, 70)
    axis.set_title(f"{heading}\nbar: mean over seeds; whisker: min-max; dot: one seed", fontsize="medium")
    axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    save_figure(figure, path, dpi=100)
    pyplot.close(figure)
    return path


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _cell(value: Any, key: str = "") -> str:
    if key == "lr" and isinstance(value, float):
        return f"{value:g}"
    if key.startswith("seconds") and isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e-3 or abs(value) >= 1e4 else f"{value:.4f}"
    return html.escape("-" if value is None else str(value))


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1150px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }
th { background: #eef2f7; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; display: block; margin: 1em 0; }
.notes li { margin: 0.3em 0; } code { background: #f4f4f4; padding: 0 0.2em; }
"""

TABLE_COLUMNS = {
    "optimizer": "optimizer",
    "lr": "lr",
    "seeds": "seeds",
    "test_accuracy_mean": "test acc (mean)",
    "test_accuracy_std": "± std",
    "test_accuracy_min": "min",
    "test_accuracy_max": "max",
    "test_loss_mean": "test loss",
    "val_accuracy_mean": "val acc (last epoch)",
    "seconds_mean": "seconds / run",
    "engine": "engine",
}


def render_html(
    title: str,
    settings: dict[str, Any],
    rows: Sequence[Summary],
    plots: Sequence[Path],
    notes: Sequence[str] = (),
    run_files: Sequence[str] = (),
) -> str:
    """The page: settings, the summary table, notes, the plots inlined, and the per-run files."""
    head = "".join(f"<th>{html.escape(label)}</th>" for label in TABLE_COLUMNS.values())
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(getattr(row, key), key)}</td>" for key in TABLE_COLUMNS) + "</tr>"
        for row in rows
    )
    setting_rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{_cell(v)}</td></tr>" for k, v in settings.items()
    )
    note_items = "".join(f"<li>{html.escape(note)}</li>" for note in notes)
    images = "".join(
        f'<figure><img src="{_data_uri(p)}" alt="{html.escape(p.stem)}"><figcaption>{html.escape(p.name)}'
        "</figcaption></figure>"
        for p in plots
    )
    files = ", ".join(f"<code>{html.escape(name)}</code>" for name in run_files)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><table>{setting_rows}</table>"
        f"<h2>Summary (best first)</h2><table><tr>{head}</tr>{body}</table>"
        + (f'<ul class="notes">{note_items}</ul>' if notes else "")
        + f"<h2>Plots</h2>{images}"
        + (f"<h2>Runs</h2><p>Per run, next to this page: {files}</p>" if run_files else "")
        + "</body></html>\n"
    )


def write_summary(rows: Sequence[Summary], folder: Path) -> None:
    """``summary.csv`` and ``summary.json``: one row per optimizer."""
    data = [asdict(row) for row in rows]
    atomic_write_text(folder / "summary.json", json.dumps(data, indent=2) + "\n")
    with atomic_open(folder / "summary.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(data[0]))
        writer.writeheader()
        writer.writerows(data)


def write_report(
    results: Sequence[RunResult],
    folder: Path,
    title: str,
    settings: dict[str, Any],
    notes: Sequence[str] = (),
    extra_plots: Sequence[Path] = (),
) -> Path:
    """Write the plots, the summary files and, last, ``report.html`` into ``folder``; return the page's path.

    The page lists the run files of ``results`` found in ``folder/runs`` (those :meth:`RunResult.save`
    wrote), never other files that folder may hold.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rows = summarize(results)
    loss, accuracy, test_accuracy = (folder / name for name in PLOTS)
    plots = [
        plot_curves(results, "loss", loss, f"{title}: loss"),
        plot_curves(results, "accuracy", accuracy, f"{title}: accuracy"),
        plot_test_accuracy(results, test_accuracy, f"{title}: final test accuracy"),
        *extra_plots,
    ]
    write_summary(rows, folder)
    run_files = sorted(
        f"{RUNS_FOLDER}/{result.config.label}.json"
        for result in results
        if (folder / RUNS_FOLDER / f"{result.config.label}.json").is_file()
    )
    page = folder / REPORT_PAGE
    atomic_write_text(page, render_html(title, settings, rows, plots, notes, run_files))
    return page


def print_summary(rows: Sequence[Summary], console: Any, title: str = "Summary") -> None:
    """The summary as a rich table on ``console`` (the compact columns; the page has them all)."""
    from rich.table import Table

    table = Table(title=title)
    for label in (
        "optimizer",
        "lr",
        "test accuracy (mean ± std)",
        "min - max",
        "test loss",
        "val acc",
        "s/run",
    ):
        table.add_column(label, justify="left" if label == "optimizer" else "right")
    for row in rows:
        table.add_row(
            row.optimizer,
            f"{row.lr:g}",
            f"{row.test_accuracy_mean:.4f} ± {row.test_accuracy_std:.4f}",
            f"{row.test_accuracy_min:.4f} - {row.test_accuracy_max:.4f}",
            _cell(row.test_loss_mean),
            _cell(row.val_accuracy_mean),
            f"{row.seconds_mean:.1f}",
        )
    console.print(table)
