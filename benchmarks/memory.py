"""Resident memory: the peak a single optimizer step adds, and the optimizer state's size.

Linux keeps a process's peak resident set (``VmHWM``) and resets it to the current
size when ``5`` is written to ``/proc/self/clear_refs``; the step's transient memory is
the peak after one step minus the size before it. Elsewhere the figure is ``None``.

Run as a script (``python benchmarks/memory.py``, part of ``make bench``), it reports per
parameter the peak a step adds above the resident size before it, for Adam at 32, 16 and 8
bits in both engines (fused kernels and ``fused=False``, the reference path) on one tensor:
the **first** step (which creates the state, so the state's own bytes are in it), a
**steady** step (the second), and **loading** a 32-bit checkpoint into the optimizer. Each
figure comes from a fresh Python process (``--child``), so that no allocator cache from an
earlier measurement hides a peak, and with glibc's mmap threshold fixed (``MALLOC_MMAP_THRESHOLD_``),
so that freed blocks leave the resident set at once. What it measures is the resident set: pages touched,
from torch's allocations (large ones are mapped and unmapped, so they show) and anything
else the process does meanwhile (numba loading its cached kernels at the first step: the
figure of a tiny tensor shows that constant part).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import torch


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def step_peak_bytes(step: Callable[[], object]) -> int | None:
    """How far above its size before the step the process's resident memory rose during ``step()``."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = _status_kib("VmRSS")
    except OSError:
        return None
    step()
    return max(0, _status_kib("VmHWM") - before) * 1024


def state_bytes(opt: torch.optim.Optimizer) -> int:
    """Bytes held in the optimizer's per-parameter state (tensors only, scalars included)."""
    total = 0
    for state in opt.state.values():
        for value in state.values():
            if isinstance(value, torch.Tensor):
                total += value.numel() * value.element_size()
    return total


# ---------------------------------------------------------------- the script: one process per figure


def child(numel: int, bits: int, fused: bool, phase: str) -> dict[str, float | None]:
    """In this process: the peak of ``phase`` ("first", "steady" or "load") in bytes per parameter."""
    import adamkit.torch as ak

    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(numel))
    w.grad = torch.randn(numel)

    def make(state_bits: int) -> torch.optim.Optimizer:
        return ak.Adam([w], lr=1e-3, state_bits=state_bits, fused=None if fused else False)

    if phase == "load":
        source = make(32)
        source.step()
        saved = source.state_dict()
        opt = make(bits)
        opt.step()  # its kernels loaded, its own state there: the load replaces it
        peak = step_peak_bytes(lambda: opt.load_state_dict(saved))
    else:
        opt = make(bits)
        if phase == "steady":
            opt.step()
        peak = step_peak_bytes(opt.step)
    return {"peak_bytes_per_param": None if peak is None else peak / numel, "engine": opt.engine}


def measure(numel: int, bits: int, fused: bool, phase: str) -> dict:
    """:func:`child` in a fresh interpreter."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    command = [sys.executable, __file__, "--child", str(numel), str(bits), str(int(fused)), phase]
    # a fixed mmap threshold: every large block is mapped and unmapped (glibc would otherwise raise
    # the threshold after the first free, keep later blocks in its heap and hide their peaks)
    env = {**os.environ, "PYTHONPATH": src, "MALLOC_MMAP_THRESHOLD_": "4194304"}
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--numel", type=int, default=50_000_000, help="values in the one tensor (50M)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        numel, bits, fused, phase = args.child
        print(json.dumps(child(int(numel), int(bits), bool(int(fused)), phase)))
        return 0
    print(f"Adam on one tensor of {args.numel:,} values: peak resident memory a phase adds, bytes/param")
    print("| state | engine | first step | steady step | load a 32-bit checkpoint |")
    print("|---|---|---|---|---|")
    for bits in (32, 16, 8):
        for fused in (True, False):
            figures = [measure(args.numel, bits, fused, phase) for phase in ("first", "steady", "load")]
            peaks = [f["peak_bytes_per_param"] for f in figures]
            cells = ["n/a" if p is None else f"{p:.2f}" for p in peaks]
            print(f"| {bits}-bit | {figures[0]['engine']} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
