"""Training parity of low-bit optimizer state: Adam at 32, 16 and 8 bits through the lab's compare.

Two experiments, each ``adamkit compare`` with the optimizers ``adam``, ``adam16`` and
``adam8`` over three seeds (same seeds, so the same initial weights and batches for all
three): the gap in mean test accuracy to 32 bits must stay within 0.3 points.

* ``mlp``: the Fashion-MNIST MLP recipe (Flatten, Dense 128 ReLU, Dense 10; Adam 1e-3,
  5 epochs, batch 32, 20 % held out), as ``adamkit reproduce mlp --data fashion-mnist``.
* ``gru``: a small sequence model, a GRU reading each Fashion-MNIST image as a sequence
  of 28 rows of 28 pixels (hidden 128, then Dense 10); 3 epochs, batch 64.

Names the lab does not know yet (``adam16``, ``adam8``) and the ``gru`` model are
registered for this process only; the reports go to ``reports/lowbit-<experiment>``.

Usage:
    python benchmarks/lowbit_parity.py                 # both experiments
    python benchmarks/lowbit_parity.py mlp --seeds 3 --threads 1
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from adamkit.lab import models, optimizers, report
from adamkit.lab.compare import compare, make_console
from adamkit.lab.runner import RunConfig

LOW_BIT_NAMES = {
    "adam16": optimizers.OptimizerSpec("Adam", 1e-3, {"state_bits": 16}, "Adam, bfloat16 moments"),
    "adam8": optimizers.OptimizerSpec("Adam", 1e-3, {"state_bits": 8}, "Adam, 8-bit blockwise moments"),
}


class RowGRU(nn.Module):
    """A GRU over the rows of an image (each row one time step), then a linear classifier."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, hidden: int = 128) -> None:
        super().__init__()
        channels, height, width = input_shape
        self.gru = nn.GRU(channels * width, hidden, batch_first=True)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        rows = x.permute(0, 2, 1, 3).reshape(n, h, c * w)
        _, last = self.gru(rows)
        return self.head(last[-1])


EXPERIMENTS = {
    "mlp": RunConfig(data="fashion-mnist", model="mlp", epochs=5, batch_size=32),
    "gru": RunConfig(data="fashion-mnist", model="gru", epochs=3, batch_size=64),
}


def register() -> None:
    """Make the lab know ``adam16``, ``adam8`` and ``gru`` (where it does not already)."""
    for name, spec in LOW_BIT_NAMES.items():
        optimizers.OPTIMIZERS.setdefault(name, spec)
    models.MODELS.setdefault("gru", lambda shape, classes: RowGRU(shape, classes))


def gaps(rows: list[report.Summary]) -> list[str]:
    """Each low-bit optimizer's mean test accuracy minus 32-bit Adam's, in points."""
    by_name = {row.optimizer: row for row in rows}
    base = by_name.get("adam")
    lines = []
    for name in ("adam16", "adam8"):
        if base is None or name not in by_name:
            continue
        gap = 100 * (by_name[name].test_accuracy_mean - base.test_accuracy_mean)
        verdict = "PASS" if abs(gap) <= 0.3 else "MISS"
        lines.append(
            f"{verdict} {name}: {gap:+.2f} points of test accuracy against 32-bit adam (mean of seeds)"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("experiments", nargs="*", help=f"any of {', '.join(EXPERIMENTS)} (default: all)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument("--epochs", type=int, default=None, help="override the experiment's epochs")
    parser.add_argument("--train-limit", type=int, default=None, help="train on the first N examples only")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    unknown = set(args.experiments) - set(EXPERIMENTS)
    if unknown:
        parser.error(f"unknown experiment(s) {sorted(unknown)}; known: {', '.join(EXPERIMENTS)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    register()
    console = make_console()
    for name in args.experiments or list(EXPERIMENTS):
        base = EXPERIMENTS[name]
        if args.epochs or args.train_limit:
            base = replace(base, epochs=args.epochs or base.epochs, train_limit=args.train_limit)
        result = compare(
            base,
            ["adam", "adam16", "adam8"],
            args.seeds,
            args.out / f"lowbit-{name}",
            title=f"low-bit Adam state: {base.data} / {base.model}",
            notes=gaps,
            show_progress=False,
            console=console,
            overwrite=True,  # a rerun replaces the previous report
        )
        report.print_summary(result.summary, console, title=f"{name}: test accuracy over seeds")
        for line in gaps(result.summary):
            console.print(line)
        console.print(f"report: {result.page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
