"""Low-bit optimizer state: Adam's step time and state memory at 32, 16 and 8 bits, against peers.

Same protocol as :mod:`run` (``make bench``), in one process: the bandwidth ceiling first,
then for each size every contender steps the same float32 parameters and gradients,
two warm-up steps each, then they take turns (A B C, B C A, ...: the first place rotates)
and each row reports the median. The peers (bitsandbytes ``Adam8bit``, torchao ``AdamW8bit``) run where they
are installed and are named as skipped where not; being slow, they take part in the
first ``--slow-rounds`` rounds only.

Bytes any implementation must move per parameter: 28 at 32 bits (read p, g, m, v; write
p, m, v), 20 with bfloat16 moments, 16.06 with 8-bit codes (plus two float32 absmax per
256 values, read and written). Effective GB/s counts those bytes for each row.

Targets (the issue): state bytes per parameter <= 2.05 at 8 bits and <= 4.0 at 16 bits;
step time at 16M parameters <= 0.8x ``torch.optim.Adam(fused=True)`` at both; and
>= 20x faster than bitsandbytes ``Adam8bit`` on the CPU.

Usage:
    python benchmarks/lowbit.py                       # 16M, 64M and GPT-2 small shapes
    python benchmarks/lowbit.py --quick               # 4M and a tiny GPT-2
    python benchmarks/lowbit.py --sizes 16M --rounds 20 --json lowbit.json
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import adamkit.torch as ak  # noqa: E402
import ceiling  # noqa: E402
import memory  # noqa: E402
from run import machine, make_params, table  # noqa: E402
from shapes import HOST_BOUND, numel, parse_size  # noqa: E402

Factory = Callable[[list[torch.Tensor]], torch.optim.Optimizer]


def bitsandbytes_adam8bit(params: list[torch.Tensor]) -> torch.optim.Optimizer:
    import bitsandbytes as bnb

    return bnb.optim.Adam8bit(params)


def torchao_adamw8bit(params: list[torch.Tensor]) -> torch.optim.Optimizer:
    from torchao.optim import AdamW8bit

    return AdamW8bit(params, weight_decay=0.0)  # Adam's update: AdamW without decay


#: name -> (factory, bytes moved per parameter, package it needs or None)
CONTENDERS: dict[str, tuple[Factory, float, str | None]] = {
    "torch fused": (lambda ps: torch.optim.Adam(ps, fused=True), 28, None),
    "adamkit 32-bit": (lambda ps: ak.Adam(ps), 28, None),
    "adamkit 16-bit": (lambda ps: ak.Adam(ps, state_bits=16), 20, None),
    "adamkit 8-bit": (lambda ps: ak.Adam(ps, state_bits=8), 16 + 4 * 4 / 256, None),
    "bitsandbytes Adam8bit": (bitsandbytes_adam8bit, 16 + 4 * 4 / 256, "bitsandbytes"),
    "torchao AdamW8bit": (torchao_adamw8bit, 16 + 4 * 4 / 256, "torchao"),
}
SLOW = {"bitsandbytes Adam8bit", "torchao AdamW8bit"}
BASELINE = "torch fused"
BNB = "bitsandbytes Adam8bit"


def available(skip: set[str]) -> tuple[list[str], dict[str, str]]:
    """The contenders to run, and why the others are not run."""
    names, missing = [], {}
    for name, (_, _, package) in CONTENDERS.items():
        if name in skip:
            missing[name] = "skipped (--skip)"
        elif package and importlib.util.find_spec(package) is None:
            missing[name] = f"not installed (pip install {package})"
        else:
            names.append(name)
    return names, missing


def tensor_bytes(t: torch.Tensor) -> int:
    """Bytes a tensor holds; a tensor subclass (torchao's 8-bit state) is counted by its inner tensors."""
    if type(t) not in (torch.Tensor, torch.nn.Parameter) and hasattr(t, "__tensor_flatten__"):
        names, _ = t.__tensor_flatten__()
        return sum(tensor_bytes(getattr(t, name)) for name in names)
    return t.numel() * t.element_size()


def state_bytes(opt: torch.optim.Optimizer) -> int:
    """Bytes in the optimizer's per-parameter state (as :func:`memory.state_bytes`, subclasses unpacked)."""
    return sum(tensor_bytes(v) for s in opt.state.values() for v in s.values() if isinstance(v, torch.Tensor))


def timed(step: Callable[[], object]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def bench_size(label: str, shapes, names: list[str], rounds: int, slow_rounds: int, ceiling_gbs: float):
    params = make_params(shapes)
    n = numel(shapes)
    opts = {}
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opts[name] = CONTENDERS[name][0](params)
    for opt in opts.values():  # warm-up: state allocated, kernels loaded or compiled
        opt.step()
        opt.step()
    peaks = {name: memory.step_peak_bytes(opt.step) for name, opt in opts.items()}
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        turn = names[r % len(names) :] + names[: r % len(names)]  # who goes first rotates, as in run.py
        for name in turn:
            if name in SLOW and r >= slow_rounds:
                continue
            times[name].append(timed(opts[name].step))
    rows = []
    for name in names:
        med = statistics.median(times[name])
        gbs = CONTENDERS[name][1] * n / med / 1e9
        rows.append(
            {
                "size": label,
                "tensors": len(shapes),
                "params": n,
                "optimizer": name,
                "ms": med * 1e3,
                "gbs": gbs,
                "ceiling_pct": 100 * gbs / ceiling_gbs,
                "steps_timed": len(times[name]),
                "state_bytes_per_param": state_bytes(opts[name]) / n,
                "step_peak_mb": None if peaks[name] is None else peaks[name] / 2**20,
            }
        )
    ms = {r["optimizer"]: r["ms"] for r in rows}
    for row in rows:
        row["vs_torch_fused"] = row["ms"] / ms[BASELINE] if BASELINE in ms else None
        row["speedup_vs_bnb"] = ms[BNB] / row["ms"] if BNB in ms else None
    del opts, params
    gc.collect()
    return rows


TARGETS = {"adamkit 8-bit": 2.05, "adamkit 16-bit": 4.0}


def verdicts(rows: list[dict]) -> list[str]:
    out = []
    for r in rows:
        if r["optimizer"] not in TARGETS:
            continue
        if r["size"] in HOST_BOUND:
            ratio = r["vs_torch_fused"]
            out.append(f"info {r['size']} {r['optimizer']}: {ratio:.2f}x torch fused (host-bound: no target)")
            continue
        most = TARGETS[r["optimizer"]]
        bpp = r["state_bytes_per_param"]
        out.append(
            f"{'PASS' if bpp <= most + 1e-3 else 'MISS'} {r['size']} {r['optimizer']}: {bpp:.3f} B/param"
        )
        if r["size"] == "16M" and r["vs_torch_fused"] is not None:
            ok = r["vs_torch_fused"] <= 0.8
            out.append(
                f"{'PASS' if ok else 'MISS'} 16M {r['optimizer']}: {r['vs_torch_fused']:.2f}x torch fused"
            )
        if r["optimizer"] == "adamkit 8-bit" and r["speedup_vs_bnb"] is not None:
            ok = r["speedup_vs_bnb"] >= 20
            out.append(
                f"{'PASS' if ok else 'MISS'} {r['size']}: {r['speedup_vs_bnb']:.1f}x faster than bnb Adam8bit"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a small run: 4M and gpt2-tiny, fewer rounds")
    parser.add_argument("--sizes", help="comma-separated: 16M, 64M, 300K, gpt2, gpt2-tiny, gpt2-mini")
    parser.add_argument("--rounds", type=int, help="timed rounds per size (default 15; quick 6)")
    parser.add_argument("--slow-rounds", type=int, default=3, help="rounds for the slow peers")
    parser.add_argument("--skip", default="", help="comma-separated contenders to leave out")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    sizes = args.sizes or ("4M,gpt2-tiny" if args.quick else "16M,64M,gpt2,gpt2-mini")
    rounds = args.rounds or (6 if args.quick else 15)
    names, missing = available({s.strip() for s in args.skip.split(",") if s.strip()})
    started = time.perf_counter()
    info = machine()
    info["load_average_start"] = os.getloadavg()
    print(f"adamkit low-bit state benchmark, {info['date']}: {info['cpu']}, {info['cores']} cores")
    print(f"torch {info['torch']} ({info['torch_threads']} threads), numba {info['numba']}")
    for name, why in missing.items():
        print(f"  {name}: {why}")
    bw = ceiling.measure(n=(16 if args.quick else 64) * 2**20)
    print(f"bandwidth ceiling {bw['ceiling']:.1f} GB/s")

    rows: list[dict] = []
    for spec in sizes.split(","):
        label, shapes = parse_size(spec)
        print(f"... {label}: {numel(shapes) / 1e6:.1f}M parameters in {len(shapes)} tensors", flush=True)
        rows += bench_size(label, shapes, names, rounds, args.slow_rounds, bw["ceiling"])
    info["load_average_end"] = os.getloadavg()
    info["seconds"] = time.perf_counter() - started

    print()
    print(table(rows, ("speedup_vs_bnb", "x faster than bnb")))
    print()
    print(f"load average at end {info['load_average_end']}; {info['seconds']:.0f} s in all")
    print("targets: <= 2.05 B/param (8-bit), <= 4.0 (16-bit); <= 0.8x torch fused at 16M; >= 20x bnb")
    for line in verdicts(rows):
        print("  " + line)
    if args.json:
        results = {"machine": info, "bandwidth": bw, "rows": rows, "missing": missing}
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
