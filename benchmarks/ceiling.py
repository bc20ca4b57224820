"""The memory-bandwidth ceiling of this machine, measured STREAM-style in the benchmark's own process.

Three kernels, run with numba (prange over every core) and, where torch has the
operation, with torch, on float32 arrays far larger than the last-level cache; the
ceiling is the best of them:

* **triad** ``a = b + s*c``: STREAM's kernel, counted as STREAM counts it, 12 bytes per
  element. The store to ``a`` also reads ``a``'s cache line first (write-allocate), so
  the memory really moves 16 bytes: the triad understates what the bus can do.
* **update** ``a = a + s*c``: read two arrays, write one back in place, 12 bytes per
  element that all really move.
* **adam pattern** ``a, b, c = a + s*d, b + s*d, c + s*d``: read four arrays, write
  three back in place, 28 bytes per element: exactly the traffic of an fp32 Adam step
  (read p, g, m, v; write p, m, v) with no arithmetic to speak of. More streams in
  flight draw more bandwidth from the memory system than the two of a triad.

STREAM's convention: for each kernel, the best of several repetitions.

:class:`SameTraffic` runs the adam pattern as a contender of the benchmark: on arrays as
large as the parameters being stepped, timed in the same interleaved rounds as the
optimizers. Its median is the ceiling each optimizer's median is compared with: the same
bytes, the same machine load, the same statistic.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from numba import njit, prange


@njit(parallel=True, cache=True)
def numba_triad(a, b, c, s):
    for i in prange(a.size):
        a[i] = b[i] + s * c[i]


@njit(parallel=True, cache=True)
def numba_update(a, c, s):
    for i in prange(a.size):
        a[i] = a[i] + s * c[i]


@njit(parallel=True, cache=True)
def numba_adam_pattern(a, b, c, d, s):
    for i in prange(a.size):
        x = s * d[i]
        a[i] = a[i] + x
        b[i] = b[i] + x
        c[i] = c[i] + x


def best_seconds(fn: Callable[[], object], reps: int) -> float:
    fn()  # warm-up (and compilation)
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(n: int = 64 * 2**20, reps: int = 10) -> dict[str, float]:
    """GB/s of each kernel and method on ``n``-element float32 arrays, and ``"ceiling"``, their best."""
    a = np.zeros(n, np.float32)
    b = np.ones(n, np.float32)
    c = np.full(n, 2.0, np.float32)
    s = np.float32(0.5)
    ta, tb, tc = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
    kernels = {
        "triad numba": lambda: numba_triad(a, b, c, s),
        "triad torch": lambda: torch.add(tb, tc, alpha=0.5, out=ta),
        "update numba": lambda: numba_update(a, c, s),
        "update torch": lambda: ta.add_(tc, alpha=0.5),
    }
    result = {name: 12 * n / best_seconds(fn, reps) / 1e9 for name, fn in kernels.items()}
    d = np.ones(n, np.float32)
    seconds = best_seconds(lambda: numba_adam_pattern(a, b, c, d, s), reps)
    result["adam pattern numba"] = 28 * n / seconds / 1e9
    result["ceiling"] = max(result.values())
    return result


class SameTraffic:
    """A stand-in optimizer whose step only moves an fp32 Adam step's 28 bytes per parameter."""

    def __init__(self, n: int) -> None:
        self.arrays = [np.full(n, 0.5, np.float32) for _ in range(4)]
        self.state: dict = {}

    def step(self) -> None:
        numba_adam_pattern(*self.arrays, np.float32(1e-7))
