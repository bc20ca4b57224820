"""``make bench``: Adam's step time and memory, adamkit against torch.optim, in one process.

Protocol (docs: DESIGN.md, "Benchmark protocol"):

* the memory bandwidth is measured first, STREAM-style, in the same run (:mod:`ceiling`);
* every contender steps the same parameters and gradients (float32); after two
  warm-up steps each, the contenders take turns, one step each per round
  (A B C, B C A, C A B, ...: the first place rotates), and each row reports the median;
* effective bandwidth counts the 28 bytes per parameter any fp32 Adam must move
  (read p, g, m, v; write p, m, v);
* the ceiling of each size is a contender too: a kernel that only moves those same
  28 bytes per parameter, on arrays as large, in the same rounds
  (:class:`ceiling.SameTraffic`). "% ceiling" is a median against a median measured
  under the same load; the STREAM figures (best of 10, on 64M-element arrays) are
  printed beside it;
* memory: optimizer state bytes per parameter, and how much resident memory one step
  adds at its peak (temporaries);
* time to the first fused step in a fresh process, cold and warm kernel cache.

The slow contenders (torch's default per-tensor loop and adamkit's reference engine)
take part in the first ``--slow-rounds`` rounds only.

Usage:
    python benchmarks/run.py                      # 16M, 64M and GPT-2 small (~124M in 148 tensors)
    python benchmarks/run.py --quick              # a small run (4M and a tiny GPT-2)
    python benchmarks/run.py --sizes 16M,gpt2 --rounds 20 --json bench.json
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import adamkit  # noqa: E402
import adamkit.torch as ak  # noqa: E402
import ceiling  # noqa: E402
import first_step  # noqa: E402
import memory  # noqa: E402
from shapes import HOST_BOUND, numel, parse_size  # noqa: E402

BYTES_PER_PARAM = 28  # fp32 Adam: read p, g, m, v; write p, m, v
CEILING = "memory only (ceiling)"

CONTENDERS: dict[str, Callable[[list[torch.Tensor]], torch.optim.Optimizer]] = {
    "torch Adam()": lambda ps: torch.optim.Adam(ps),
    "torch foreach": lambda ps: torch.optim.Adam(ps, foreach=True),
    "torch fused": lambda ps: torch.optim.Adam(ps, fused=True),
    "adamkit reference": lambda ps: ak.Adam(ps, fused=False),
    "adamkit": lambda ps: ak.Adam(ps),
    CEILING: lambda ps: ceiling.SameTraffic(sum(p.numel() for p in ps)),
}
SLOW = {"torch Adam()", "adamkit reference"}
BASELINE, DEFAULT, OURS = "torch fused", "torch Adam()", "adamkit"

TARGETS = """targets: adamkit <= 1.0x torch fused (16M, gpt2); >= 85% of the ceiling;
         >= 6x faster than torch Adam(); first step <= 5 s cold cache, <= 0.5 s warm"""


def machine() -> dict[str, object]:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "numba_threads": numba.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numba": numba.__version__,
        "adamkit": adamkit.__version__ if hasattr(adamkit, "__version__") else "dev",
        "date": datetime.date.today().isoformat(),
    }


def make_params(shapes: list[tuple[int, ...]]) -> list[torch.nn.Parameter]:
    gen = torch.Generator().manual_seed(0)
    params = []
    for shape in shapes:
        p = torch.nn.Parameter(torch.empty(shape).normal_(0.0, 0.02, generator=gen))
        p.grad = torch.empty(shape).normal_(0.0, 1e-3, generator=gen)
        params.append(p)
    return params


def timed(step: Callable[[], object]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def bench_size(
    label: str,
    shapes,
    rounds: int,
    slow_rounds: int,
    skip: set[str],
    stream_gbs: float,
    contenders: dict[str, Callable[[list[torch.Tensor]], Any]] | None = None,
    slow: set[str] = SLOW,
    bytes_per_param: int = BYTES_PER_PARAM,
):
    """One row per contender for this parameter set; the slow ones timed in fewer rounds.

    ``contenders`` defaults to Adam's (:data:`CONTENDERS`); ``bytes_per_param`` is what GB/s counts.
    """
    contenders = CONTENDERS if contenders is None else contenders
    params = make_params(shapes)
    n = numel(shapes)
    names = [name for name in contenders if name not in skip]
    opts = {name: contenders[name](params) for name in names}
    for opt in opts.values():  # warm-up: state allocated, kernels loaded, caches settled
        opt.step()
        opt.step()
    peaks = {name: memory.step_peak_bytes(opt.step) for name, opt in opts.items()}
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        turn = names[r % len(names) :] + names[: r % len(names)]  # who goes first rotates
        for name in turn:
            if name in slow and r >= slow_rounds:
                continue
            times[name].append(timed(opts[name].step))
    rows = []
    for name in names:
        med = statistics.median(times[name])
        gbs = bytes_per_param * n / med / 1e9
        rows.append(
            {
                "size": label,
                "tensors": len(shapes),
                "params": n,
                "optimizer": name,
                "ms": med * 1e3,
                "gbs": gbs,
                "stream_pct": 100 * gbs / stream_gbs,
                "steps_timed": len(times[name]),
                "state_bytes_per_param": memory.state_bytes(opts[name]) / n,
                "step_peak_mb": None if peaks[name] is None else peaks[name] / 2**20,
            }
        )
    base = {r["optimizer"]: r["ms"] for r in rows}
    ceiling_gbs = next((r["gbs"] for r in rows if r["optimizer"] == CEILING), stream_gbs)
    for row in rows:
        row["ceiling_pct"] = 100 * row["gbs"] / ceiling_gbs
        row["vs_torch_fused"] = row["ms"] / base[BASELINE] if BASELINE in base else None
        row["speedup_vs_torch_default"] = base[DEFAULT] / row["ms"] if DEFAULT in base else None
    del opts, params
    gc.collect()
    return rows


def fmt(value, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


DEFAULT_RATIO = ("speedup_vs_torch_default", "speed-up vs Adam()")


def table(rows: list[dict], ratio: tuple[str, str] = DEFAULT_RATIO) -> str:
    """The rows as a Markdown table; ``ratio`` is the (row key, column title) of the last ratio column."""
    ratio_key, ratio_title = ratio
    head = (
        f"| size | optimizer | ms/step | GB/s | % ceiling | x torch fused | {ratio_title} "
        "| state B/param | step peak MiB | steps |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        size = f"{r['size']} ({r['params'] / 1e6:.1f}M, {r['tensors']} tensors)"
        lines.append(
            f"| {size} | {r['optimizer']} | {r['ms']:.1f} | {r['gbs']:.1f} | {r['ceiling_pct']:.0f} % "
            f"| {fmt(r['vs_torch_fused'], '.2f')} | {fmt(r[ratio_key], '.1f')} "
            f"| {r['state_bytes_per_param']:.2f} | {fmt(r['step_peak_mb'], '.0f')} | {r['steps_timed']} |"
        )
    return "\n".join(lines)


def verdicts(rows: list[dict], first: dict | None, stream_gbs: float) -> list[str]:
    out = []
    for r in (r for r in rows if r["optimizer"] == OURS):
        mark = lambda ok: "PASS" if ok else "MISS"  # noqa: E731
        if r["size"] in HOST_BOUND:
            out.append(f"info {r['size']}: {r['vs_torch_fused']:.2f}x torch fused (host-bound: no target)")
            continue
        if r["vs_torch_fused"] is not None and r["size"] in ("16M", "gpt2"):
            out.append(
                f"{mark(r['vs_torch_fused'] <= 1.0)} {r['size']}: {r['vs_torch_fused']:.2f}x torch fused"
            )
        out.append(
            f"{mark(r['ceiling_pct'] >= 85)} {r['size']}: {r['ceiling_pct']:.0f} % of the ceiling "
            f"({r['stream_pct']:.0f} % of the STREAM best, {stream_gbs:.1f} GB/s)"
        )
        if r["speedup_vs_torch_default"] is not None:
            speedup = r["speedup_vs_torch_default"]
            out.append(f"{mark(speedup >= 6)} {r['size']}: {speedup:.1f}x faster than torch Adam()")
    if first:
        for label, limit in (("cold", 5.0), ("warm", 0.5)):
            seconds = first[label]["first_step_s"]
            out.append(f"{mark(seconds <= limit)} first step, {label} kernel cache: {seconds:.2f} s")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a small run: 4M and gpt2-tiny, fewer rounds")
    parser.add_argument("--sizes", help="comma-separated: 16M, 64M, 300K, gpt2, gpt2-tiny, gpt2-mini")
    parser.add_argument("--rounds", type=int, help="timed rounds per size (default 15; quick 6)")
    parser.add_argument("--slow-rounds", type=int, default=5, help="rounds for the slow contenders")
    parser.add_argument("--skip", default="", help="comma-separated contenders to leave out")
    parser.add_argument("--no-first-step", action="store_true", help="skip the cold/warm first-step runs")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    sizes = args.sizes or ("4M,gpt2-tiny" if args.quick else "16M,64M,gpt2,gpt2-mini")
    rounds = args.rounds or (6 if args.quick else 15)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    started = time.perf_counter()
    info = machine()
    info["load_average_start"] = os.getloadavg()
    print(f"adamkit benchmark, {info['date']}: {info['cpu']}, {info['cores']} cores")
    print(
        f"python {info['python']}, torch {info['torch']} ({info['torch_threads']} threads), "
        f"numba {info['numba']} ({info['numba_threads']} threads); load average {info['load_average_start']}"
    )

    bw = ceiling.measure(n=(16 if args.quick else 64) * 2**20)
    info["numba_threading_layer"] = numba.threading_layer()
    print("STREAM-style bandwidth, best of 10 (GB/s): " + ", ".join(f"{k} {v:.1f}" for k, v in bw.items()))

    rows: list[dict] = []
    for spec in sizes.split(","):
        label, shapes = parse_size(spec)
        print(f"... {label}: {numel(shapes) / 1e6:.1f}M parameters in {len(shapes)} tensors", flush=True)
        rows += bench_size(label, shapes, rounds, args.slow_rounds, skip, bw["ceiling"])

    first = None if args.no_first_step else first_step.measure()
    info["load_average_end"] = os.getloadavg()
    info["seconds"] = time.perf_counter() - started

    print()
    print(table(rows))
    print()
    if first:
        for label, t in first.items():
            print(
                f"first use, {label} kernel cache: import {t['import_s']:.2f} s, construct "
                f"{t['construct_s']:.2f} s, first step {t['first_step_s']:.2f} s, "
                f"second step {t['second_step_s'] * 1e3:.1f} ms"
            )
    print(
        f"GB/s at {BYTES_PER_PARAM} B/param; % ceiling: median against the median of '{CEILING}' "
        "(the same bytes in the same rounds; over 100 % is noise); "
        f"STREAM best {bw['ceiling']:.1f} GB/s; load average at end {info['load_average_end']}; "
        f"{info['seconds']:.0f} s in all"
    )
    print(TARGETS)
    for line in verdicts(rows, first, bw["ceiling"]):
        print("  " + line)
    if args.json:
        results = {"machine": info, "bandwidth": bw, "rows": rows, "first_step": first}
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
