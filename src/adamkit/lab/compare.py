"""``adamkit compare``: train one model with several optimizers over several seeds, then report.

Every optimizer runs with the same seeds, so with the same initial weights and the same
batches. The report folder holds one JSON and one CSV per run (``runs/``), the plots,
``summary.csv``/``summary.json`` and ``report.html`` (one self-contained page), written
last. A folder that is a file or cannot be written is refused before any training, and so is
one that already holds files, unless ``--overwrite`` (see :mod:`adamkit.lab.output`).

Example::

    adamkit compare --data fashion-mnist --model mlp --optimizers adam,sgd,adagrad,rmsprop \\
        --epochs 5 --seeds 3
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write_text
from . import arguments, report, tuning
from .output import TUNING_FILES, prepare_report_folder
from .runner import RunConfig, RunResult, load_tensors, train


@dataclass
class Comparison:
    """The runs of a comparison and where its report is."""

    results: list[RunResult]
    folder: Path
    page: Path
    summary: list[report.Summary]
    tunings: list[tuning.Tuning]  # empty without --tune


def default_folder(data: str, model: str) -> Path:
    """``reports/compare-<data>-<model>-<date>-<time>`` under the working directory."""
    return Path("reports") / f"compare-{data}-{model}-{time.strftime('%Y%m%d-%H%M%S')}"


def make_console() -> Any:
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:  # a log file or a pipe: lines as wide as the table needs
        console.width = max(console.width, 120)
    return console


def compare(
    base: RunConfig,
    optimizer_names: Sequence[str],
    seeds: int,
    folder: Path,
    title: str | None = None,
    notes: Callable[[list[report.Summary]], Sequence[str]] | None = None,
    extra_settings: dict[str, Any] | None = None,
    console: Any | None = None,
    show_progress: bool = True,
    overwrite: bool = False,
    tune_grid: Sequence[float] | None = None,
    tune_seeds: int = 1,
) -> Comparison:
    """Run ``base`` with each optimizer and seeds ``0..seeds-1``; write the report into ``folder``.

    Args:
        base: the settings shared by every run (its ``optimizer`` and ``seed`` are replaced).
        optimizer_names: the lab's optimizer names (see :mod:`adamkit.lab.optimizers`).
        seeds: how many seeds per optimizer.
        folder: where the report goes (created); checked before any training: it must be a
            writable folder, new or empty unless ``overwrite``.
        title: the report's title (default: data set and model).
        notes: makes lines to add under the summary from its rows (a recipe's findings).
        extra_settings: more rows for the report's settings table (a recipe's name).
        console: a ``rich.console.Console`` (default: a new one on stdout).
        show_progress: draw a progress bar while training.
        overwrite: empty ``folder`` first if it holds a previous report (only a report: a folder
            with other files is refused).
        tune_grid: learning rates to try per optimizer before the final runs (None: no search,
            ``base.lr`` or each optimizer's default). Each rate runs with seeds ``0..tune_seeds-1``
            and is scored by its mean validation accuracy; the best is used for the final runs.
        tune_seeds: seeds per grid rate in the search.

    Raises:
        LabError: ``folder`` cannot take the report (before anything is trained).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if tune_grid and base.validation == 0:
        raise arguments.LabError("--tune chooses on the validation split: --validation must be > 0")
    if tune_grid and base.lr is not None:
        raise arguments.LabError(f"--tune chooses each optimizer's rate: drop --lr {base.lr:g}")
    prepare_report_folder(folder, overwrite)
    console = console or make_console()
    title = title or f"{base.data} / {base.model}"
    data = load_tensors(base)
    console.print(
        f"[bold]{title}[/]: {len(data.x_train)} training, {len(data.x_val)} validation, "
        f"{len(data.x_test)} test examples; {base.epochs} epochs, batch {base.batch_size}, "
        f"schedule {base.schedule}, {seeds} seed(s) per optimizer; torch threads {torch.get_num_threads()}"
    )
    results: list[RunResult] = []
    tunings: list[tuning.Tuning] = []
    columns = (TextColumn("{task.description:>18}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not show_progress, transient=True) as progress:
        if tune_grid:
            search = progress.add_task("lr search", total=len(optimizer_names) * len(tune_grid) * tune_seeds)
            advance = lambda: progress.advance(search)  # noqa: E731
            for name in optimizer_names:
                found = tuning.tune_lr(base, name, tune_grid, tune_seeds, data, advance)
                tunings.append(found)
                console.print(
                    f"{name}: lr {found.chosen:g} chosen on validation accuracy ("
                    + ", ".join(f"{lr:g}: {m:.4f}" for lr, m in zip(found.grid, found.means, strict=True))
                    + ")",
                    markup=False,
                )
            progress.remove_task(search)
        chosen = {found.optimizer: found.chosen for found in tunings}
        overall = progress.add_task("all runs", total=len(optimizer_names) * seeds)
        for name in optimizer_names:
            for seed in range(seeds):
                config = replace(base, optimizer=name, seed=seed, lr=chosen.get(name, base.lr))
                say = (lambda line: console.print(line, markup=False)) if seed == 0 else None
                result = train(config, data, progress=progress, say=say)
                result.save(folder / "runs")
                results.append(result)
                progress.advance(overall)
    settings = {
        **(extra_settings or {}),
        "data": base.data,
        "model": base.model,
        "epochs": base.epochs,
        "batch size": base.batch_size,
        "learning rate": _lr_setting(base, tunings, tune_seeds),
        "schedule": base.schedule,
        "validation fraction": base.validation,
        "seeds": f"{seeds} (0..{seeds - 1}), the same for every optimizer",
        "training examples": len(data.x_train),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    rows = report.summarize(results)
    extra_plots = []
    if tunings:
        plot_name, numbers_name = TUNING_FILES
        numbers = json.dumps([asdict(found) for found in tunings], indent=2)
        atomic_write_text(folder / numbers_name, numbers + "\n")
        heading = f"{title}: learning-rate sensitivity (validation)"
        extra_plots.append(tuning.plot_sensitivity(tunings, folder / plot_name, heading))
    page = report.write_report(results, folder, title, settings, notes(rows) if notes else (), extra_plots)
    return Comparison(results, folder, page, rows, tunings)


def _lr_setting(base: RunConfig, tunings: Sequence[tuning.Tuning], tune_seeds: int) -> str | float:
    if not tunings:
        return "each optimizer's default" if base.lr is None else base.lr
    grid = ", ".join(f"{lr:g}" for lr in tunings[0].grid)
    chosen = ", ".join(f"{found.optimizer} {found.chosen:g}" for found in tunings)
    return (
        f"tuned per optimizer on the validation split: {chosen} (grid {grid}; "
        f"best mean validation accuracy over {tune_seeds} seed(s), then the final seeds)"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``adamkit compare``."""
    parser.add_argument(
        "--data", type=arguments.dataset_name, default="digits", help="data set (default: digits)"
    )
    parser.add_argument(
        "--model", type=arguments.model_name, default="mlp", help="mlp, cnn, logistic or 2-4-1"
    )
    parser.add_argument(
        "--optimizers",
        type=arguments.optimizer_names,
        default=["adam", "sgd", "adagrad", "rmsprop"],
        help="comma-separated names, e.g. adam,sgd,torch-adam (default: adam,sgd,adagrad,rmsprop)",
    )
    parser.add_argument(
        "--epochs", type=arguments.positive_int, default=5, help="epochs per run (default: 5)"
    )
    parser.add_argument(
        "--seeds", type=arguments.positive_int, default=3, help="seeds per optimizer (default: 3)"
    )
    parser.add_argument("--batch-size", type=arguments.positive_int, default=32, help="default: 32")
    parser.add_argument(
        "--lr",
        type=arguments.positive_float,
        default=None,
        help="one learning rate for all (default: per optimizer)",
    )
    parser.add_argument(
        "--tune",
        type=tuning.tune_argument,
        default=None,
        metavar="lr[=LOW:HIGH:POINTS]",
        help=f"choose each optimizer's learning rate on the validation split first, on a log grid "
        f"('lr' = {tuning.DEFAULT_SPEC})",
    )
    parser.add_argument(
        "--tune-seeds",
        type=arguments.positive_int,
        default=1,
        help="seeds per grid rate in the --tune search (default: 1)",
    )
    parser.add_argument("--schedule", type=arguments.schedule_spec, default="constant", help=_schedule_help())
    parser.add_argument(
        "--validation",
        type=arguments.fraction,
        default=0.2,
        help="fraction held out for validation (default: 0.2)",
    )
    parser.add_argument(
        "--train-limit", type=arguments.positive_int, default=None, help="train on the first N examples only"
    )
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: reports/compare-...)")
    add_overwrite_argument(parser)
    add_common_arguments(parser)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every training command shares."""
    parser.add_argument(
        "--threads",
        type=arguments.positive_int,
        default=None,
        help="torch intra-op threads (default: torch's own; 1 suits small models on a busy machine)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_overwrite_argument(parser: argparse.ArgumentParser) -> None:
    """``--overwrite``: for commands that write a report folder."""
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the report already in --out (its files are deleted first; a folder holding "
        "other files is refused)",
    )


def apply_threads(args: argparse.Namespace) -> None:
    """Set torch's thread count only where the user asked for one."""
    if args.threads is not None:
        torch.set_num_threads(args.threads)


def _schedule_help() -> str:
    from ..schedules import SPEC_HELP

    return f"learning-rate schedule, stepped per batch: {SPEC_HELP}".replace("%", "%%")


def run(args: argparse.Namespace) -> int:
    """Run the comparison the arguments describe, print the summary and the report's path."""
    base = RunConfig(
        data=args.data,
        model=args.model,
        lr=args.lr,
        epochs=args.epochs,
        batch_size=args.batch_size,
        schedule=args.schedule,
        validation=args.validation,
        train_limit=args.train_limit,
    )
    apply_threads(args)
    console = make_console()
    folder = args.out or default_folder(args.data, args.model)
    result = compare(
        base,
        args.optimizers,
        args.seeds,
        folder,
        console=console,
        show_progress=not args.no_progress,
        overwrite=args.overwrite,
        tune_grid=args.tune,
        tune_seeds=args.tune_seeds,
    )
    report.print_summary(
        result.summary, console, title=f"{args.data} / {args.model}: test accuracy over seeds"
    )
    print(f"Report: {result.page.resolve()}")
    return 0
