"""Each tensor's sums from its programs' partial sums, on the device (the GPU's
:func:`adamkit.torch.kernels.jit.tensor_totals`).

A first pass (:mod:`.lamb`, :mod:`.cautious`) writes one float64 row of ``columns`` sums per
program, no atomics; the programs of a tensor are consecutive (:func:`.launch.program_map`).
One program per tensor then adds its rows, ``CHUNK`` at a time, in a fixed order: the totals are
the same on every run (an ``index_add_`` of the rows would add them in the order the atomics land).
(One program per tensor reads a 64M-value tensor's 65536 rows, 1 MB for LAMB's two sums, in 64
chunks: small beside the 2.5 GB its passes move; not yet timed on a GPU.)
"""

from __future__ import annotations

import numpy as np
import torch
import triton
import triton.language as tl

CHUNK = 1024  # rows a program adds at once (a 64M-value tensor has 65536 programs: 64 iterations)


@triton.jit
def tensor_sums_kernel(
    partials, first_program, totals, COLUMNS: tl.constexpr, WIDTH: tl.constexpr, CHUNK: tl.constexpr
):
    """Row ``t`` of ``totals``: rows ``first_program[t]:first_program[t + 1]`` of ``partials`` added
    (``WIDTH``: ``COLUMNS`` rounded up to a power of two, as Triton's blocks are)."""
    t = tl.program_id(0)
    lo = tl.load(first_program + t)
    hi = tl.load(first_program + t + 1)
    columns = tl.arange(0, WIDTH)
    total = tl.zeros([CHUNK, WIDTH], tl.float64)
    for start in range(lo, hi, CHUNK):  # whole rows at a time: one contiguous load per chunk
        rows = start + tl.arange(0, CHUNK)
        mask = (rows < hi)[:, None] & (columns < COLUMNS)[None, :]
        total += tl.load(partials + rows[:, None] * COLUMNS + columns[None, :], mask=mask, other=0.0)
    tl.store(totals + t * COLUMNS + columns, tl.sum(total, axis=0), mask=columns < COLUMNS)


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
        width = triton.next_power_of_2(columns)
        tensor_sums_kernel[(tensors,)](
            partials, starts, totals, COLUMNS=columns, WIDTH=width, CHUNK=CHUNK, **options
        )
    return totals
