"""Time to the first fused step in a fresh process, with a cold and with a warm kernel cache.

Run as a script it builds a small model-shaped set (a 1M tensor and a bias, one param
group, so the multi-core launcher runs), constructs
``adamkit.torch.Adam`` and times the first two steps; it prints one JSON line.
:func:`measure` runs it twice in subprocesses sharing a new, empty
``NUMBA_CACHE_DIR`` (where :mod:`adamkit.torch.kernels.machine_code` keeps compiled kernels
too): the first compiles, the second loads them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time


def child() -> None:
    start = time.perf_counter()
    import torch

    import adamkit.torch

    imported = time.perf_counter()
    params = [torch.nn.Parameter(torch.randn(2**20)), torch.nn.Parameter(torch.randn(768))]
    for p in params:
        p.grad = torch.randn_like(p)
    ready = time.perf_counter()
    opt = adamkit.torch.Adam(params)
    constructed = time.perf_counter()
    opt.step()
    first = time.perf_counter()
    opt.step()
    second = time.perf_counter()
    report = {
        "engine": opt.engine,
        "import_s": imported - start,
        "construct_s": constructed - ready,
        "first_step_s": first - constructed,
        "second_step_s": second - first,
    }
    print(json.dumps(report))


def measure() -> dict[str, dict[str, float]]:
    """``{"cold": {...}, "warm": {...}}``, each the child's timings."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="adamkit-numba-cache-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("cold", "warm"):
            run = subprocess.run(
                [sys.executable, __file__], env=env, capture_output=True, text=True, check=True
            )
            out[label] = json.loads(run.stdout.strip().splitlines()[-1])
    return out


if __name__ == "__main__":
    child()
