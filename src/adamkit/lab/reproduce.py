"""``adamkit reproduce RECIPE``: rerun an experiment of the reference articles and set ours beside theirs.

Recipes (the articles' settings; ``--data``, ``--seeds``, ``--optimizer`` and ``--epochs``
may change them):

* ``mlp``: the Keras MNIST article's MLP (Flatten, Dense 128 ReLU, Dense 10), Adam at
  1e-3, 5 epochs, batch 32, 20% of the training set held out for validation. The article
  reports test accuracy 0.9731 on MNIST (one Keras run).
  ``--optimizer adam,torch-adam`` runs adamkit's Adam and torch.optim's with the same
  seeds, and prints the gap between them.
* ``cnn-compare``: the comparison article's CNN (Conv 32 3x3, MaxPool 2, Flatten,
  Dense 128, Dense 10) trained with Adagrad, Adam and SGD (Keras's default rates), batch
  60, 10 epochs. The article prints no figures; we report the ranking with its spread
  over seeds. (It validates on the test set; we hold out 20% of the training set.)
* ``sphere``: Adam from scratch on f(x, y) = x^2 + y^2 over [-1, 1]^2, drawn with its
  surface (delegates to :func:`adamkit.lab.sphere.reproduce_sphere`).
* ``2-4-1``: the PyTorch notes' 2-4-1 network (sigmoid output, BCE) on its dummy random data,
  100 steps of Adam, adamkit's and torch.optim's from the same seed, both loss curves drawn
  (delegates to :func:`adamkit.lab.net241.reproduce_net_2_4_1`).

The training recipes write the same report folder as ``adamkit compare`` (``--overwrite`` to
replace one); ``--out`` is checked before anything runs.
"""

from __future__ import annotations

import argparse
import importlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import arguments, report
from .compare import add_common_arguments, add_overwrite_argument, apply_threads, compare, make_console
from .output import check_writable
from .runner import RunConfig


@dataclass(frozen=True)
class Recipe:
    """A training experiment of an article: its settings and what the article reports."""

    about: str
    model: str
    optimizers: tuple[str, ...]
    epochs: int
    batch_size: int
    data: str  # the article's data set
    article: str  # what the article reports, in words
    article_accuracy: float | None = None  # its published test accuracy, if any
    validation: float = 0.2


RECIPES: dict[str, Recipe] = {
    "mlp": Recipe(
        about="MLP 128 with Adam (Keras MNIST article)",
        model="mlp",
        optimizers=("adam",),
        epochs=5,
        batch_size=32,
        data="mnist",
        article="test accuracy 0.9731 on MNIST (Keras, one run)",
        article_accuracy=0.9731,
    ),
    "cnn-compare": Recipe(
        about="small CNN with Adagrad, Adam and SGD (Adam from scratch and comparison article)",
        model="cnn",
        optimizers=("adagrad", "adam", "sgd"),
        epochs=10,
        batch_size=60,
        data="mnist",
        article="no figures printed (its code trains the three on MNIST and compares their histories)",
    ),
}

#: Recipes that are not a training run: name -> (module, function(out_dir) -> dict), imported when run.
DELEGATED: dict[str, tuple[str, str, str]] = {
    "sphere": (
        "adamkit.lab.sphere",
        "reproduce_sphere",
        "Adam from scratch on x^2 + y^2 (comparison article)",
    ),
    "2-4-1": (
        "adamkit.lab.net241",
        "reproduce_net_2_4_1",
        "the 2-4-1 network on dummy data, adamkit's Adam beside torch's (PyTorch notes)",
    ),
}

RECIPE_NAMES = (*RECIPES, *DELEGATED)


def spread_text(row: report.Summary) -> str:
    """``0.8712 ± 0.0021 (min 0.8690, max 0.8735, 3 seeds)``."""
    return (
        f"{row.test_accuracy_mean:.4f} ± {row.test_accuracy_std:.4f} "
        f"(min {row.test_accuracy_min:.4f}, max {row.test_accuracy_max:.4f}, {row.seeds} seed(s))"
    )


def findings(recipe: Recipe, data: str, rows: Sequence[report.Summary]) -> list[str]:
    """Our result beside the article's, as lines for the console and the report."""
    lines = [f"article: {recipe.article}"]
    if data != recipe.data:
        lines.append(
            f"note: we ran on {data}, the article on {recipe.data}: the figures are not like for like"
        )
    if len(rows) > 1:
        lines.append(
            "ranking (ours): "
            + "; ".join(f"{i}. {r.optimizer} {spread_text(r)}" for i, r in enumerate(rows, 1))
        )
    else:
        lines.append(f"ours ({rows[0].optimizer}): test accuracy {spread_text(rows[0])}")
    by_name = {row.optimizer: row for row in rows}
    if "adam" in by_name and "torch-adam" in by_name:
        gap = by_name["adam"].test_accuracy_mean - by_name["torch-adam"].test_accuracy_mean
        lines.append(
            f"adamkit Adam - torch.optim.Adam (same seeds): {100 * gap:+.2f} points of test accuracy"
        )
    if recipe.article_accuracy is not None:
        for row in rows:
            gap = row.test_accuracy_mean - recipe.article_accuracy
            lines.append(
                f"{row.optimizer} vs the article's {recipe.article_accuracy}: {100 * gap:+.2f} points"
            )
    return lines


def run_training_recipe(name: str, args: argparse.Namespace, console: Any) -> int:
    recipe = RECIPES[name]
    data = args.data or recipe.data
    names = args.optimizer or list(recipe.optimizers)
    base = RunConfig(
        data=data,
        model=recipe.model,
        epochs=args.epochs or recipe.epochs,
        batch_size=recipe.batch_size,
        validation=recipe.validation,
    )
    folder = args.out or Path("reports") / f"reproduce-{name}-{data}-{time.strftime('%Y%m%d-%H%M%S')}"
    title = f"reproduce {name} on {data}: {recipe.about}"
    comparison = compare(
        base,
        names,
        args.seeds,
        folder,
        title=title,
        notes=lambda rows: findings(recipe, data, rows),
        extra_settings={"recipe": name},
        console=console,
        show_progress=not args.no_progress,
        overwrite=args.overwrite,
    )
    report.print_summary(comparison.summary, console, title=title)
    for line in findings(recipe, data, comparison.summary):
        console.print(line, soft_wrap=True, markup=False)
    print(f"Report: {comparison.page.resolve()}")
    return 0


def run_delegated_recipe(name: str, args: argparse.Namespace, console: Any) -> int:
    module_name, function_name, _ = DELEGATED[name]
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise arguments.LabError(f"recipe {name!r} needs {module_name}.{function_name}: {error}") from None
    folder = args.out or Path("reports") / f"reproduce-{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    check_writable(folder)
    folder.mkdir(parents=True, exist_ok=True)
    outcome = function(folder)
    from rich.table import Table

    table = Table(title=f"reproduce {name}: {DELEGATED[name][2]}")
    table.add_column("what")
    table.add_column("value")
    for key, value in outcome.items():
        shown = f"{value:.6g}" if isinstance(value, float) and math.isfinite(value) else str(value)
        table.add_row(str(key), shown)
    console.print(table)
    print(f"Output: {folder.resolve()}")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``adamkit reproduce``."""
    parser.add_argument(
        "recipe",
        choices=RECIPE_NAMES,
        help="; ".join(f"{n}: {r.about}" for n, r in RECIPES.items())
        + "; "
        + "; ".join(f"{n}: {d[2]}" for n, d in DELEGATED.items()),
    )
    parser.add_argument(
        "--data", type=arguments.dataset_name, default=None, help="data set (default: the article's, mnist)"
    )
    parser.add_argument(
        "--seeds", type=arguments.positive_int, default=3, help="seeds per optimizer (default: 3)"
    )
    parser.add_argument(
        "--optimizer",
        "--optimizers",
        dest="optimizer",
        type=arguments.optimizer_names,
        default=None,
        help="optimizer(s) instead of the recipe's, comma-separated: adam, torch-adam, adam,torch-adam, ...",
    )
    parser.add_argument("--epochs", type=arguments.positive_int, default=None, help="instead of the recipe's")
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default: reports/reproduce-...)"
    )
    add_overwrite_argument(parser)
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run the recipe the arguments name."""
    apply_threads(args)
    console = make_console()
    if args.recipe in DELEGATED:
        return run_delegated_recipe(args.recipe, args, console)
    return run_training_recipe(args.recipe, args, console)
