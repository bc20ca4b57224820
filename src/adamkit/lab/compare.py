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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from . import arguments, report
from .output import prepare_report_folder
from .runner import RunConfig, RunResult, load_tensors, train


@dataclass
class Comparison:
    """The runs of a comparison and where its report is."""

    results: list[RunResult]
    folder: Path
    page: Path
    summary: list[report.Summary]


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

    Raises:
        LabError: ``folder`` cannot take the report (before anything is trained).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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
    columns = (TextColumn("{task.description:>18}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not show_progress, transient=True) as progress:
        overall = progress.add_task("all runs", total=len(optimizer_names) * seeds)
        for name in optimizer_names:
            for seed in range(seeds):
                config = replace(base, optimizer=name, seed=seed)
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
        "learning rate": "each optimizer's default" if base.lr is None else base.lr,
        "schedule": base.schedule,
        "validation fraction": base.validation,
        "seeds": f"{seeds} (0..{seeds - 1}), the same for every optimizer",
        "training examples": len(data.x_train),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    rows = report.summarize(results)
    page = report.write_report(results, folder, title, settings, notes(rows) if notes else ())
    return Comparison(results, folder, page, rows)


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
    )
    report.print_summary(
        result.summary, console, title=f"{args.data} / {args.model}: test accuracy over seeds"
    )
    print(f"Report: {result.page.resolve()}")
    return 0
