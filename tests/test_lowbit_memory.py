"""Low-bit state is created, converted and updated in chunks: no temporary the size of the model.

Measured as ``benchmarks/memory.py`` measures (the peak resident set a phase adds, in a fresh
process, glibc's mmap threshold fixed so that freed blocks leave at once), on one tensor of 8M
values: large enough that a full-size float32 temporary (4 bytes a value, 32 MB) stands out of
the constant part (numba loading its cached kernels: about 26 MB, 3 bytes a value here). The
bounds are generous (a memory figure varies with the allocator); before the chunked codec the
first 8-bit step peaked at about 46 bytes a value, a 32-bit checkpoint's load at about 38 and a
reference-path step at low bits above the 32-bit one's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parents[1]
NUMEL = 8_000_000


def peak(bits: int, fused: bool, phase: str, numel: int = NUMEL) -> float:
    """Bytes per value ``phase`` adds to the resident set (``benchmarks/memory.py --child``)."""
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux's /proc/self/clear_refs")
    command = [sys.executable, str(ROOT / "benchmarks" / "memory.py"), "--child", str(numel)]
    command += [str(bits), str(int(fused)), phase]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "MALLOC_MMAP_THRESHOLD_": "4194304"}
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env, timeout=600)
    figure = json.loads(out.stdout.strip().splitlines()[-1])["peak_bytes_per_param"]
    if figure is None:
        pytest.skip("the peak resident set cannot be reset here")
    return figure


@pytest.fixture(scope="module")
def compiled_kernels() -> None:
    """A small run first, so that numba's cache holds the kernels: a first run that compiles them
    (a fresh checkout, a changed kernel source) adds LLVM's memory, not the step's, to the figure."""
    for phase in ("first", "load"):
        peak(8, True, phase, 1 << 20)  # above the one-thread threshold: the parallel kernels too


def test_first_8_bit_step_and_a_32_bit_checkpoint_s_load_stay_small(compiled_kernels):
    # the state itself (2.03 bytes a value) and the kernels' loading (~3) are in these figures
    assert peak(8, True, "first") < 8
    # the load converts the checkpoint's moments in chunks and checks their values without a
    # per-value temporary (measured 2.7; 7.1 while the check ran torch.isfinite on each moment)
    assert peak(8, True, "load") < 5


def test_the_reference_path_at_8_bits_peaks_below_its_32_bit_step():
    # no numba here: a smaller tensor shows it (measured at 8M: 2.4 bytes a value against 20.0)
    assert peak(8, False, "steady", NUMEL // 4) < max(peak(32, False, "steady", NUMEL // 4), 2.0)
