"""Adam's step on a CUDA device: adamkit's Triton kernels against torch.optim, in one process.

The protocol of :mod:`run` on the GPU: the same float32 parameters and gradients for every
contender, two warm-up steps each, then rounds in which each takes one step (the first
place rotates), each step timed between two ``torch.cuda.synchronize()``; medians. The
ceiling is a contender too: ``torch._foreach_add_`` moving the same 28 bytes per parameter
(read p, g, m, v; write p, m, v is what any fp32 Adam must move), on tensors of the same
shapes, in the same rounds. The rows with 16-bit and 8-bit optimizer state move 20 and
about 16 bytes per parameter; their GB/s column still counts 28 (fp32-equivalent speed).

Without a CUDA device (or without Triton) it says so and exits 0, so ``make bench`` runs
everywhere.

Usage:
    python benchmarks/gpu.py                     # 16M, 64M and GPT-2 small shapes
    python benchmarks/gpu.py --sizes 16M --rounds 50 --json gpu.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import adamkit.torch as ak  # noqa: E402
from run import machine  # noqa: E402
from shapes import numel, parse_size  # noqa: E402

BYTES_PER_PARAM = 28
CEILING = "memory only (ceiling)"
BASELINE = "torch fused"


class SameTraffic:
    """A stand-in optimizer whose step moves 28 bytes per parameter on the GPU: a, b, c += s * d."""

    def __init__(self, params: list[torch.Tensor]) -> None:
        self.arrays = [[torch.zeros_like(p) for p in params] for _ in range(4)]

    def step(self) -> None:
        a, b, c, d = self.arrays
        for x in (a, b, c):
            torch._foreach_add_(x, d, alpha=1e-7)


CONTENDERS: dict[str, Callable[[list[torch.Tensor]], object]] = {
    "torch Adam() (foreach)": lambda ps: torch.optim.Adam(ps),
    "torch fused": lambda ps: torch.optim.Adam(ps, fused=True),
    "adamkit Triton": lambda ps: ak.Adam(ps),
    "adamkit Triton 16-bit state": lambda ps: ak.Adam(ps, state_bits=16),
    "adamkit Triton 8-bit state": lambda ps: ak.Adam(ps, state_bits=8),
    CEILING: SameTraffic,
}
#: ``--modern``: the modern family's Triton kernels in the same rounds (they move other byte
#: counts: Lion 20 per parameter, AdaBelief 28, AdEMAMix 36, Schedule-Free AdamW 28, and the
#: two-pass kernels, whose first pass sums over each tensor: LAMB 40, cautious AdamW 44; Adafactor's
#: four passes 24 for a matrix, torch.optim.Adafactor beside it; the GB/s column still counts 28).
MODERN: dict[str, Callable[[list[torch.Tensor]], object]] = {
    "adamkit Triton Lion": lambda ps: ak.Lion(ps, lr=1e-4),
    "adamkit Triton AdaBelief": lambda ps: ak.AdaBelief(ps),
    "adamkit Triton AdEMAMix": lambda ps: ak.AdEMAMix(ps),
    "adamkit Triton ScheduleFreeAdamW": lambda ps: in_train_mode(ak.ScheduleFreeAdamW(ps)),
    "adamkit Triton LAMB": lambda ps: ak.LAMB(ps),
    "adamkit Triton AdamW cautious": lambda ps: ak.AdamW(ps, cautious=True),
    "torch Adafactor (foreach)": lambda ps: torch.optim.Adafactor(ps),
    "adamkit Triton Adafactor": lambda ps: ak.Adafactor(ps),
}


def in_train_mode(opt: ak.ScheduleFreeAdamW) -> ak.ScheduleFreeAdamW:
    """Schedule-Free steps in train mode only."""
    opt.train()
    return opt


def timed(step: Callable[[], object]) -> float:
    torch.cuda.synchronize()
    start = time.perf_counter()
    step()
    torch.cuda.synchronize()
    return time.perf_counter() - start


def bench_size(label: str, shapes, rounds: int) -> list[dict]:
    gen = torch.Generator(device="cuda").manual_seed(0)
    params = []
    for shape in shapes:
        p = torch.nn.Parameter(torch.empty(shape, device="cuda").normal_(0.0, 0.02, generator=gen))
        p.grad = torch.empty(shape, device="cuda").normal_(0.0, 1e-3, generator=gen)
        params.append(p)
    names = list(CONTENDERS)
    opts = {name: CONTENDERS[name](params) for name in names}
    for opt in opts.values():
        opt.step()
        opt.step()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(timed(opts[name].step))
    n = numel(shapes)
    medians = {name: statistics.median(t) for name, t in times.items()}
    rows = []
    for name in names:
        gbs = BYTES_PER_PARAM * n / medians[name] / 1e9
        rows.append(
            {
                "size": label,
                "tensors": len(shapes),
                "params": n,
                "optimizer": name,
                "ms": medians[name] * 1e3,
                "gbs": gbs,
                "ceiling_pct": 100 * medians[CEILING] / medians[name],
                "vs_torch_fused": medians[name] / medians[BASELINE],
            }
        )
    for name in names:
        if name.startswith("adamkit"):
            print(f"    {name}: {opts[name].engine} engine")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="16M,64M,gpt2", help="comma-separated: 16M, 64M, 300K, gpt2")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--modern",
        action="store_true",
        help="also time Lion, AdaBelief, AdEMAMix, Schedule-Free AdamW, LAMB, cautious AdamW and Adafactor",
    )
    args = parser.parse_args(argv)
    if not torch.cuda.is_available() or importlib.util.find_spec("triton") is None:
        print("GPU benchmark: skipped (needs a CUDA device and Triton)")
        return 0
    info = machine()
    info["gpu"] = torch.cuda.get_device_name()
    print(f"adamkit GPU benchmark, {info['date']}: {info['gpu']}, torch {info['torch']}")
    if args.modern:
        CONTENDERS.update(MODERN)
    rows: list[dict] = []
    for spec in args.sizes.split(","):
        label, shapes = parse_size(spec)
        print(f"... {label}: {numel(shapes) / 1e6:.1f}M parameters in {len(shapes)} tensors", flush=True)
        rows += bench_size(label, shapes, args.rounds)
    print()
    print("| size | optimizer | ms/step | GB/s at 28 B/param | % ceiling | x torch fused |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        size = f"{r['size']} ({r['params'] / 1e6:.1f}M, {r['tensors']} tensors)"
        print(
            f"| {size} | {r['optimizer']} | {r['ms']:.2f} | {r['gbs']:.0f} | {r['ceiling_pct']:.0f} % "
            f"| {r['vs_torch_fused']:.2f} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
