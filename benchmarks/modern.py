"""The modern family's step time against its authors' implementations, in one process (``make bench``).

Per optimizer, on one 16M float32 tensor (a 4096 x 4096 matrix): adamkit's default engine, its
reference engine, and the peer the tests compare it with (when installed), interleaved as in
:mod:`run` (medians, the first place rotating), beside torch.optim's fused Adam and the
memory-only ceiling of the same rounds.
GB/s counts the bytes each fused step must move (Lion 20 B/param: p, g, m read, p, m written;
AdaBelief 28; AdEMAMix 36; the two-pass kernels: LAMB 40, cautious Lion 28, cautious AdamW 44,
cautious AdEMAMix 48; Schedule-Free AdamW 28: y, g, z, v read, y, z, v written, as Adam, whom its
row also times; Adafactor's four passes over a matrix 24: p, g read, g read, p, g read and p
written), so "% ceiling" says how close a kernel runs to the memory bus; the
ceiling moves Adam's 28 B. LAMB has no torch peer installed (its tests compare with optax).

Usage:
    python benchmarks/modern.py                 # 16M, 10 rounds
    python benchmarks/modern.py --size 4M --rounds 5
    python benchmarks/modern.py --families LAMB,"AdamW cautious"   # some rows only
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import adamkit.torch as ak  # noqa: E402
import ceiling  # noqa: E402
from run import CEILING, bench_size, machine, table  # noqa: E402
from shapes import numel, parse_size  # noqa: E402

Factory = Callable[[list[torch.Tensor]], Any]


def training(make: Factory | None) -> Factory | None:
    """``make`` with the optimizer put in train mode (Schedule-Free steps in train mode only)."""
    if make is None:
        return None

    def started(ps: list[torch.Tensor]) -> Any:
        opt = make(ps)
        opt.train()
        return opt

    return started


def peer(module: str, attribute: str, **kwargs: Any) -> Factory | None:
    """A peer's optimizer class with ``kwargs``, or None where its package is not installed."""
    try:
        cls = getattr(importlib.import_module(module), attribute)
    except ImportError:
        return None
    return lambda ps: cls(ps, **kwargs)


#: (family, bytes per parameter its fused step moves, contenders)
FAMILIES: list[tuple[str, int, dict[str, Factory | None]]] = [
    ("Lion", 20, {
        "adamkit Lion": lambda ps: ak.Lion(ps),
        "adamkit Lion(fused=False)": lambda ps: ak.Lion(ps, fused=False),
        "lion-pytorch Lion": peer("lion_pytorch", "Lion"),
    }),
    ("AdaBelief", 28, {
        "adamkit AdaBelief": lambda ps: ak.AdaBelief(ps),
        "adamkit AdaBelief(fused=False)": lambda ps: ak.AdaBelief(ps, fused=False),
        "adabelief-pytorch AdaBelief": peer(
            "adabelief_pytorch", "AdaBelief", rectify=False, weight_decouple=False, print_change_log=False
        ),
    }),
    ("AdEMAMix", 36, {
        "adamkit AdEMAMix": lambda ps: ak.AdEMAMix(ps),
        "adamkit AdEMAMix(fused=False)": lambda ps: ak.AdEMAMix(ps, fused=False),
        "pytorch-optimizer AdEMAMix": peer(
            "pytorch_optimizer", "AdEMAMix", weight_decay=0.01, weight_decouple=True
        ),
    }),
    ("LAMB", 40, {
        "adamkit LAMB": lambda ps: ak.LAMB(ps),
        "adamkit LAMB(fused=False)": lambda ps: ak.LAMB(ps, fused=False),
    }),
    ("Lion cautious", 28, {
        "adamkit Lion(cautious)": lambda ps: ak.Lion(ps, cautious=True),
        "adamkit Lion(cautious, fused=False)": lambda ps: ak.Lion(ps, cautious=True, fused=False),
        "pytorch-optimizer Lion(cautious)": peer("pytorch_optimizer", "Lion", cautious=True),
    }),
    ("AdamW cautious", 44, {
        "adamkit AdamW(cautious)": lambda ps: ak.AdamW(ps, cautious=True),
        "adamkit AdamW(cautious, fused=False)": lambda ps: ak.AdamW(ps, cautious=True, fused=False),
        "adamkit AdamW": lambda ps: ak.AdamW(ps),
    }),
    ("AdEMAMix cautious", 48, {
        "adamkit AdEMAMix(cautious)": lambda ps: ak.AdEMAMix(ps, cautious=True),
        "adamkit AdEMAMix(cautious, fused=False)": lambda ps: ak.AdEMAMix(ps, cautious=True, fused=False),
        "pytorch-optimizer AdEMAMix(cautious)": peer(
            "pytorch_optimizer", "AdEMAMix", weight_decay=0.01, weight_decouple=True, cautious=True
        ),
    }),
    ("Adafactor", 24, {
        "adamkit Adafactor": lambda ps: ak.Adafactor(ps),
        "adamkit Adafactor(fused=False)": lambda ps: ak.Adafactor(ps, fused=False),
        "torch.optim Adafactor": lambda ps: torch.optim.Adafactor(ps),  # foreach, its default
    }),
    ("ScheduleFreeAdamW", 28, {
        "adamkit ScheduleFreeAdamW": training(ak.ScheduleFreeAdamW),
        "adamkit ScheduleFreeAdamW(fused=False)": training(lambda ps: ak.ScheduleFreeAdamW(ps, fused=False)),
        "schedulefree AdamWScheduleFree": training(peer("schedulefree", "AdamWScheduleFree")),
        "adamkit Adam": lambda ps: ak.Adam(ps),
        "adamkit AdamW": lambda ps: ak.AdamW(ps),
    }),
]
SLOW_SUFFIX = "fused=False)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="16M", help="a size of benchmarks/shapes.py (default 16M)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--families", default=None, help="comma-separated family rows (default: all): "
        + ", ".join(name for name, _, _ in FAMILIES)
    )
    args = parser.parse_args(argv)
    chosen = None if args.families is None else [name.strip() for name in args.families.split(",")]
    unknown = sorted(set(chosen or ()) - {name for name, _, _ in FAMILIES})
    if unknown:
        parser.error(f"--families: unknown {', '.join(unknown)}")
    info = machine()
    print(f"adamkit modern family, {info['date']}: {info['cpu']}, {info['cores']} cores")
    stream = ceiling.measure(n=64 * 2**20)["ceiling"]
    label, shapes = parse_size(args.size)
    side = math.isqrt(numel(shapes))
    if len(shapes) == 1 and side * side == numel(shapes):
        shapes = [(side, side)]  # a matrix, so that Adafactor factors its second moment
    rows: list[dict] = []
    for family, bytes_per_param, candidates in FAMILIES:
        if chosen is not None and family not in chosen:
            continue
        contenders = {name: make for name, make in candidates.items() if make is not None}
        contenders["torch fused"] = lambda ps: torch.optim.Adam(ps, fused=True)
        contenders[CEILING] = lambda ps: ceiling.SameTraffic(sum(p.numel() for p in ps))
        missing = [name for name, make in candidates.items() if make is None]
        absent = f" (not installed: {', '.join(missing)})" if missing else ""
        print(f"... {family}{absent}", flush=True)
        slow = {name for name in contenders if name.endswith(SLOW_SUFFIX)}
        family_rows = bench_size(
            f"{label} {family}", shapes, args.rounds, 3, set(), stream, contenders, slow, bytes_per_param
        )
        ours = ("adamkit", "torch fused", CEILING)
        peers = [r["ms"] for r in family_rows if not r["optimizer"].startswith(ours)]
        for row in family_rows:  # how many times faster than the peer the tests compare with
            row["speedup_vs_peer"] = peers[0] / row["ms"] if peers else None
        rows += family_rows
    print()
    print(table(rows, ratio=("speedup_vs_peer", "speed-up vs the peer")))
    print(
        "GB/s at each family's bytes per parameter (Lion 20, Adafactor 24, AdaBelief 28, AdEMAMix 36, "
        "LAMB 40, cautious: Lion 28, AdamW 44, AdEMAMix 48; ScheduleFreeAdamW 28); "
        f"STREAM best {stream:.1f} GB/s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
