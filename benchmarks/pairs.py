"""Step-time ratios on a machine shared with other jobs: optimizers stepped in alternation, and the
median of each round's ratio to the first one.

:mod:`run` and :mod:`modern` take each contender's median time over rounds and divide the medians;
when other jobs come and go within a run, a contender that drew a busier stretch looks slower. Here
the contenders step the same parameters one after another within each round (the first place
rotating), so each round's ratios compare steps taken milliseconds apart, and the median of those
ratios is what a quieter machine would show. Absolute times are printed for reference only.

Usage:
    python benchmarks/pairs.py ScheduleFreeAdamW Adam AdamW              # 16M, 60 rounds
    python benchmarks/pairs.py --size gpt2 --rounds 15 ScheduleFreeAdamW Adam
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import adamkit.torch as ak  # noqa: E402
from run import machine, make_params, timed  # noqa: E402
from shapes import numel, parse_size  # noqa: E402


def optimizer(name: str, params: list) -> object:
    """adamkit's ``name`` at its defaults (Schedule-Free put in train mode, where it steps)."""
    opt = getattr(ak, name)(params)
    if hasattr(opt, "train"):
        opt.train()
    return opt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("optimizers", nargs="+", help="adamkit.torch class names; ratios are to the first")
    parser.add_argument("--size", default="16M", help="a size of benchmarks/shapes.py (default 16M)")
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args(argv)
    unknown = [name for name in args.optimizers if not hasattr(ak, name)]
    if unknown:
        parser.error(f"unknown optimizer(s): {', '.join(unknown)}")
    info = machine()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    label, shapes = parse_size(args.size)
    print(f"adamkit pairs, {info['date']}: {info['cpu']}, {info['cores']} cores, load average {load:.1f}; "
          f"{label}: {numel(shapes) / 1e6:.1f}M values in {len(shapes)} tensors")
    params = make_params(shapes)
    names = args.optimizers
    opts = {name: optimizer(name, params) for name in names}
    for opt in opts.values():  # warm-up: state allocated, kernels loaded
        opt.step()
        opt.step()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(timed(opts[name].step))
    first = names[0]
    print(f"{first}: median {statistics.median(times[first]) * 1e3:.1f} ms")
    for name in names[1:]:
        ratios = [a / b for a, b in zip(times[first], times[name], strict=True)]
        low, _, high = statistics.quantiles(ratios, n=4)
        print(f"{name}: median {statistics.median(times[name]) * 1e3:.1f} ms; {first} / {name}: "
              f"median of rounds {statistics.median(ratios):.3f} (quartiles {low:.3f}-{high:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
