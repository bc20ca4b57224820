"""Each tensor's sums from its programs' partial sums, on the device (the GPU's
:func:`adamkit.torch.kernels.jit.tensor_totals`).

A first pass (:mod:`.lamb`, :mod:`.cautious`) writes one float64 row of ``columns`` sums per
program, no atomics; the programs of a tensor are consecutive (:func:`.launch.program_map`).
One program per tensor then adds its rows, ``CHUNK`` at a time, in a fixed order: the totals are
the same on every run (an ``index_add_`` of the rows would add them in the order the atomics land).
"""

from __future__ import annotations

import numpy as np
import torch
import triton
import triton.language as tl

CHUNK = 256  # rows a program adds at once (a 64M-value tensor has 65536 programs: 256 iterations)


@triton.jit
def tensor_sums_kernel(partials, first_program, totals, COLUMNS: tl.constexpr, CHUNK: tl.constexpr):
    """Row ``t`` of ``totals``: rows ``first_program[t]:first_program[t + 1]`` of ``partials`` added."""
    t = tl.program_id(0)
    lo = tl.load(first_program + t)
    hi = tl.load(first_program + t + 1)
    for column in tl.static_range(COLUMNS):
        total = tl.zeros([CHUNK], tl.float64)
        for start in range(lo, hi, CHUNK):
            rows = start + tl.arange(0, CHUNK)
            total += tl.load(partials + rows * COLUMNS + column, mask=rows < hi, other=0.0)
        tl.store(totals + t * COLUMNS + column, tl.sum(total, axis=0))


def first_programs(sizes: np.ndarray, block: int) -> np.ndarray:
    """Each tensor's first program, then the number of programs (tensors + 1 values)."""
    starts = np.zeros(len(sizes) + 1, np.int64)
    np.cumsum((sizes + block - 1) // block, out=starts[1:])
    return starts


def tensor_totals(partials: torch.Tensor, starts: torch.Tensor, tensors: int, **options) -> torch.Tensor:
    """The ``(tensors, columns)`` float64 sums of ``partials`` (``(programs, columns)``) per tensor
    (``starts``: :func:`first_programs`, on the device); zeros for a tensor without programs.
    ``options``: Triton's compile options (the launcher's)."""
    columns = partials.shape[1]
    totals = torch.empty((tensors, columns), dtype=torch.float64, device=partials.device)
    if tensors:
        tensor_sums_kernel[(tensors,)](partials, starts, totals, COLUMNS=columns, CHUNK=CHUNK, **options)
    return totals
