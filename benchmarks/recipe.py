"""An epoch of the articles' MLP recipe on Fashion-MNIST: the whole training loop, per optimizer.

The articles train a 784-128-10 MLP (``adamkit.lab.models.mlp``) with Adam at batch size 32.
Here each contender trains its own copy of the same initial model for one epoch of the real
training set (48,000 images after the lab's validation split, 1,500 steps), in one process on
one thread, the contenders taking turns epoch by epoch (``--epochs`` rounds, the first place
rotating); the row is the median epoch time, and its ratio is against ``torch.optim.Adam()``
with its defaults in the same rounds. The step is the optimizer's share; forward, backward and
the batches are the same for all. Fashion-MNIST comes from ``adamkit.data.load`` (Debian's
``dataset-fashion-mnist`` or a download, checked against its SHA-256).

Usage:
    python benchmarks/recipe.py                  # 3 rounds
    python benchmarks/recipe.py --epochs 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

import adamkit.torch as ak  # noqa: E402
from adamkit.data import load  # noqa: E402
from adamkit.lab.models import mlp  # noqa: E402
from run import machine  # noqa: E402

BATCH = 32
BASELINE = "torch Adam()"
CONTENDERS: dict[str, Callable] = {
    BASELINE: lambda ps: torch.optim.Adam(ps),
    "torch Adam(fused=True)": lambda ps: torch.optim.Adam(ps, fused=True),
    "adamkit Adam()": lambda ps: ak.Adam(ps),
    "adamkit Adam(state_bits=16)": lambda ps: ak.Adam(ps, state_bits=16),
    "adamkit Adam(state_bits=8)": lambda ps: ak.Adam(ps, state_bits=8),
}


def epoch(model: torch.nn.Module, opt, x: torch.Tensor, y: torch.Tensor, order: torch.Tensor) -> float:
    """One epoch in ``order``; returns its wall time in seconds."""
    start = time.perf_counter()
    for i in range(0, len(order) - BATCH + 1, BATCH):
        batch = order[i : i + BATCH]
        opt.zero_grad()
        F.cross_entropy(model(x[batch]), y[batch]).backward()
        opt.step()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=3, help="rounds: one epoch per contender each")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    data = load("fashion-mnist", seed=0)
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    info = machine()
    print(f"adamkit recipe benchmark, {info['date']}: {info['cpu']}, torch {info['torch']}, 1 thread")
    torch.manual_seed(0)
    initial = mlp(tuple(x.shape[1:]), data.num_classes)
    models = {name: mlp(tuple(x.shape[1:]), data.num_classes) for name in CONTENDERS}
    for model in models.values():
        model.load_state_dict(initial.state_dict())
    opts = {name: make(models[name].parameters()) for name, make in CONTENDERS.items()}
    names, times = list(CONTENDERS), {name: [] for name in CONTENDERS}
    for r in range(args.epochs):
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(r))
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(epoch(models[name], opts[name], x, y, order))
    base = statistics.median(times[BASELINE])
    print(f"| optimizer | s/epoch ({len(x):,} images, batch {BATCH}) | x torch Adam() |")
    print("|---|---|---|")
    for name in names:
        median = statistics.median(times[name])
        print(f"| {name} | {median:.2f} | {median / base:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
