"""Small models, where the step is host work: adamkit against torch.optim.Adam(fused=True), one process.

The protocol of :mod:`run` (same parameters and gradients for every contender, two warm-up
steps, interleaved rounds with a rotating first place, medians), on the parameter sets of
issue 19: one scalar, the articles' MLP (784-128-10: 4 tensors, 101,770 values), the
comparison article's CNN (Conv 32 3x3, Dense 128, Dense 10 on 28x28: 6 tensors), a tiny
GPT-2 (148 tensors, 0.2M values), at 1 and 2 threads. Times are per step in microseconds;
the ratio is against torch fused fp32 in the same rounds.

Usage:
    python benchmarks/small.py                    # every set, 1 and 2 threads
    python benchmarks/small.py --threads 1 --rounds 400
    python benchmarks/small.py --threads 1 --sets 16x4,64x4   # what the host costs per tensor
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import adamkit.torch as ak  # noqa: E402
from run import machine  # noqa: E402
from shapes import gpt2_shapes  # noqa: E402

SETS: dict[str, list[tuple[int, ...]]] = {
    "scalar": [()],
    "MLP 784-128-10": [(128, 784), (128,), (10, 128), (10,)],
    "CNN 32c3-128-10": [(32, 1, 3, 3), (32,), (128, 5408), (128,), (10, 128), (10,)],
    "gpt2-mini": gpt2_shapes(n_embd=32, vocab=512, n_ctx=128),
}
#: Not in the default run: tensors of 4 values, 16 and 64 of them, whose difference is what the host
#: costs per tensor (``--sets 16x4,64x4``; the update itself is a few nanoseconds a tensor).
TINY: dict[str, list[tuple[int, ...]]] = {f"{n}x4": [(4,)] * n for n in (16, 64)}
BASELINE = "torch fused"
CONTENDERS: dict[str, Callable[[list[torch.Tensor]], object]] = {
    "torch Adam()": lambda ps: torch.optim.Adam(ps),
    BASELINE: lambda ps: torch.optim.Adam(ps, fused=True),
    "adamkit Adam": lambda ps: ak.Adam(ps),
    "adamkit Adam 16-bit": lambda ps: ak.Adam(ps, state_bits=16),
    "adamkit Adam 8-bit": lambda ps: ak.Adam(ps, state_bits=8),
}


def bench(shapes: list[tuple[int, ...]], rounds: int) -> dict[str, float]:
    """Median seconds per step of every contender on ``shapes``."""
    gen = torch.Generator().manual_seed(0)
    params = []
    for shape in shapes:
        p = torch.nn.Parameter(torch.randn(shape, generator=gen) * 0.02)
        p.grad = torch.randn(shape, generator=gen) * 1e-3
        params.append(p)
    opts = {name: make([p for p in params]) for name, make in CONTENDERS.items()}
    for opt in opts.values():
        opt.step()
        opt.step()
    names = list(opts)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            opts[name].step()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {list(SETS | TINY)}")
    args = parser.parse_args(argv)
    info = machine()
    print(f"adamkit small-model benchmark, {info['date']}: {info['cpu']}, torch {info['torch']}")
    print("| threads | parameters | " + " | ".join(CONTENDERS) + " |")
    print("|---|---|" + "---|" * len(CONTENDERS))
    for threads in map(int, args.threads.split(",")):
        torch.set_num_threads(threads)
        for name in args.sets.split(","):
            shapes = (SETS | TINY)[name]
            medians = bench(shapes, args.rounds)
            base = medians[BASELINE]
            cells = [f"{medians[c] * 1e6:.0f} us ({medians[c] / base:.2f}x)" for c in CONTENDERS]
            size = sum(torch.Size(s).numel() for s in shapes)
            print(
                f"| {threads} | {name} ({len(shapes)} tensors, {size:,}) | " + " | ".join(cells) + " |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
