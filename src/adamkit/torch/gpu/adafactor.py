r"""Adafactor's passes as Triton kernels: :mod:`adamkit.torch.kernels.adafactor` on a GPU.

The same four passes as the CPU engine (:mod:`adamkit.torch.fused_adafactor`), with the same
arithmetic, launched per tensor:

1. **sums**: a matrix's programs take ``ROWS`` whole rows of one slice each and sweep its columns
   ``COLS`` at a time: each row's :math:`\sum G^2`, the program's column sums (one float64 row of
   the scratch per program) and :math:`\sum\theta^2`, squares in the dtype then summed in float64,
   as the CPU's; a vector's programs update its second moment and sum :math:`\theta^2` and
   :math:`U^2` at once (:func:`vector_sums_kernel`);
2. **factors**: O(rows + columns x programs) per matrix, torch operations on the device
   (:func:`new_factors`): the column sums added over the programs, the means rounded to the dtype,
   both factors lerped as the CPU's (``old + w (mean - old)``), each slice's
   :math:`\max(\mathrm{mean}(R), \epsilon_1)`;
3. **update sums**: :math:`\sum U^2` per program from the new factors (:func:`matrix_update_kernel`);
4. **apply**: :math:`U` again and :math:`\theta \leftarrow \theta(1-\eta\lambda) - sU`, with the step
   size :math:`s` computed on the device from the sums (:func:`step_sizes`, the CPU engine's
   float64 operations): the host never waits for the device.

Per-tensor scalars (sign, the new square's weight, :math:`\epsilon_1`, :math:`\epsilon_1^2`,
:math:`1-\eta\lambda`) are a table in the dtype, the CPU engine's columns
(:mod:`adamkit.torch.kernels.adafactor`), sent in one transfer per step. Division and square root
round to nearest and no FMA is compiled in (:data:`.launch.NO_FMA`), as the other kernels.

Not yet tuned on a GPU: one launch per pass and tensor (a model of hundreds of matrices pays
hundreds of launches), and ``ROWS`` x ``COLS`` tiles chosen for correctness, not measured.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import triton
import triton.language as tl

from ...rules.spec import Hyper
from ..fused import bump_versions
from ..fused_adafactor import Entry, step_of, store_step
from ..kernels import adafactor as cpu
from .common import divide, square_root
from .launch import NO_FMA, per_step

ROWS = 32  # rows of a matrix per program (its column sums: one float64 row of the scratch)
COLS = 128  # columns a program takes at once
BLOCK = 1024  # elements of a vector per program


@triton.jit
def direction(g, variance, floor, DOUBLE: tl.constexpr):
    """:func:`adamkit.torch.kernels.adafactor.direction`: ``g / sqrt(max(variance, eps1**2))``."""
    return divide(g, square_root(tl.where(variance < floor, floor, variance), DOUBLE), DOUBLE)


@triton.jit
def matrix_sums_kernel(param, grad, row_sums, column_sums, param_sums, rows, cols, row_blocks,
                       ROWS: tl.constexpr, COLS: tl.constexpr):
    """Pass 1 of a matrix: ``row_sums`` (slices x rows), the program's row of ``column_sums``
    (programs x cols) and its ``sum(p * p)`` in ``param_sums``, all float64."""
    b = tl.program_id(0)
    k = (b // row_blocks).to(tl.int64)
    r = ((b % row_blocks) * ROWS + tl.arange(0, ROWS)).to(tl.int64)  # r * cols: past 2**31 in a large slice
    row_mask = r < rows
    base = k * rows * cols
    row_total = tl.zeros([ROWS], tl.float64)
    param_total = tl.zeros([ROWS], tl.float64)
    for c0 in range(0, cols, COLS):
        c = c0 + tl.arange(0, COLS)
        mask = row_mask[:, None] & (c < cols)[None, :]
        at = base + r[:, None] * cols + c[None, :]
        g = tl.load(grad + at, mask=mask, other=0.0)
        p = tl.load(param + at, mask=mask, other=0.0).to(tl.float64)
        square = tl.where(mask, (g * g).to(tl.float64), 0.0)  # the square in the dtype, as the CPU's
        row_total += tl.sum(square, axis=1)
        param_total += tl.sum(p * p, axis=1)
        tl.store(column_sums + b.to(tl.int64) * cols + c, tl.sum(square, axis=0), mask=c < cols)
    tl.store(row_sums + k * rows + r, row_total, mask=row_mask)
    tl.store(param_sums + b, tl.sum(param_total, axis=0))


@triton.jit
def matrix_update_kernel(param, grad, row_var, col_var, denominator, scalars, step_size, direction_sums,
                         rows, cols, row_blocks, ROWS: tl.constexpr, COLS: tl.constexpr,
                         APPLY: tl.constexpr, DOUBLE: tl.constexpr):
    """Pass 3 (``APPLY`` False: the program's ``sum(u * u)``, float64, in ``direction_sums``) or 4
    (``APPLY``: ``p * decay - step_size * u``) of a matrix, ``u`` from the new factors."""
    b = tl.program_id(0)
    k = (b // row_blocks).to(tl.int64)
    r = ((b % row_blocks) * ROWS + tl.arange(0, ROWS)).to(tl.int64)  # r * cols: past 2**31 in a large slice
    row_mask = r < rows
    base = k * rows * cols
    sign = tl.load(scalars + 0)
    floor = tl.load(scalars + 3)
    den = tl.load(denominator + k)
    row = tl.load(row_var + k * rows + r, mask=row_mask, other=1.0)
    total = tl.zeros([ROWS], tl.float64)
    for c0 in range(0, cols, COLS):
        c = c0 + tl.arange(0, COLS)
        mask = row_mask[:, None] & (c < cols)[None, :]
        at = base + r[:, None] * cols + c[None, :]
        col = tl.load(col_var + k * cols + c, mask=c < cols, other=1.0)
        g = tl.load(grad + at, mask=mask, other=0.0)
        variance = divide(row[:, None] * col[None, :], den, DOUBLE)  # (row @ col) / denominator
        u = direction(g * sign, variance, floor, DOUBLE)
        if APPLY:
            p = tl.load(param + at, mask=mask)
            tl.store(param + at, p * tl.load(scalars + 4) - tl.load(step_size) * u, mask=mask)
        else:
            u64 = tl.where(mask, u.to(tl.float64), 0.0)
            total += tl.sum(u64 * u64, axis=1)
    if not APPLY:
        tl.store(direction_sums + b, tl.sum(total, axis=0))


@triton.jit
def vector_sums_kernel(param, grad, variance, scalars, sums, n, BLOCK: tl.constexpr, DOUBLE: tl.constexpr):
    """Pass 1 of a vector (or scalar): its second moment, stored, and the program's
    ``(sum(p * p), sum(u * u))`` (float64) in its row of ``sums``."""
    b = tl.program_id(0)
    at = b.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = at < n
    g = tl.load(grad + at, mask=mask) * tl.load(scalars + 0)
    v = tl.load(variance + at, mask=mask)
    v = v + tl.load(scalars + 1) * (g * g - v)  # lerp(variance, grad * grad, weight)
    tl.store(variance + at, v, mask=mask)
    u = direction(g, v, tl.load(scalars + 3), DOUBLE)
    p = tl.where(mask, tl.load(param + at, mask=mask).to(tl.float64), 0.0)
    u64 = tl.where(mask, u.to(tl.float64), 0.0)
    tl.store(sums + 2 * b, tl.sum(p * p, axis=0))
    tl.store(sums + 2 * b + 1, tl.sum(u64 * u64, axis=0))


@triton.jit
def vector_apply_kernel(param, grad, variance, scalars, step_size, n,
                        BLOCK: tl.constexpr, DOUBLE: tl.constexpr):
    """Pass 4 of a vector: ``p * decay - step_size * u``."""
    b = tl.program_id(0)
    at = b.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = at < n
    g = tl.load(grad + at, mask=mask) * tl.load(scalars + 0)
    u = direction(g, tl.load(variance + at, mask=mask), tl.load(scalars + 3), DOUBLE)
    p = tl.load(param + at, mask=mask)
    tl.store(param + at, p * tl.load(scalars + 4) - tl.load(step_size) * u, mask=mask)


def new_factors(e: Entry, row_sums: torch.Tensor, column_sums: torch.Tensor, s: torch.Tensor, weight: float,
                eps1: float, dtype: torch.dtype) -> torch.Tensor:
    """Pass 2 of a matrix, on the device: its factors lerped in place, and each slice's
    ``max(mean(row_var), eps1)`` in the dtype. The CPU's operations (:func:`.kernels.adafactor.factors`):
    float64 sums rounded to the dtype, then divided by the count in the dtype (``s``: the tensor's
    row of the table, on the device: torch on CUDA multiplies by the reciprocal of a Python divisor,
    which may differ in the last bit); the other scalars are Python numbers, which torch rounds to
    the dtype as the CPU engine's table."""
    slices, rows, cols = e.layout[:3]
    row_var, col_var = (f.view(-1) for f in e.factors)
    column_total = column_sums.view(slices, -1, cols).sum(dim=1).view(-1)
    rows_real, cols_real = s[cpu.ROWS_REAL], s[cpu.COLS_REAL]
    for old, total, count in ((col_var, column_total, rows_real), (row_var, row_sums, cols_real)):
        mean = total.to(dtype) / count
        old.copy_(old + weight * (mean - old))  # lerp(old, mean, weight), in the CPU's order
    row_mean = row_var.view(slices, rows).to(torch.float64).sum(dim=1).to(dtype) / rows_real
    return torch.where(row_mean < eps1, eps1, row_mean)


def step_sizes(totals: torch.Tensor, sizes: np.ndarray, rho: np.ndarray, eps2: float, d: float,
               dtype: torch.dtype) -> torch.Tensor:
    """Each tensor's step size from its ``(sum p^2, sum u^2)`` (float64, on the device): the CPU
    engine's operations (:func:`adamkit.torch.fused_adafactor.run_passes`), there; every divisor a
    tensor (see :func:`new_factors`)."""
    root_n, rho, d_each = per_step(
        totals.device, np.sqrt(sizes.astype(np.float64)), rho, np.full(len(sizes), float(d))
    )
    param_rms = torch.sqrt(totals[:, 0]) / root_n
    alpha = torch.where(param_rms > eps2, param_rms, eps2) * rho  # max(a, x) is a for a NaN x
    clip = (torch.sqrt(totals[:, 1]) / root_n) / d_each
    clip = torch.where(clip > 1.0, clip, 1.0)
    return (alpha / clip).to(dtype)


def run_passes(entries: list[Entry], dtype: np.dtype, hp: Hyper) -> None:
    """One step of ``entries`` (non-empty tensors of ``dtype``, on one CUDA device): the passes above.
    What the host computes (the scalars' table, each tensor's ``rho``) it computes as the CPU engine."""
    lr, decay, (eps1, eps2), d, wd = hp["lr"], hp["beta2_decay"], hp["eps"], hp["d"], hp["weight_decay"]
    eps1 = float(np.finfo(dtype).eps) if eps1 is None else float(eps1)
    device = entries[0].param.device
    torch_dtype = entries[0].param.dtype
    double = dtype == np.float64
    options: dict[str, Any] = {"enable_fp_fusion": NO_FMA}
    steps = [step_of(e) + 1 for e in entries]
    sizes = np.array([e.param.numel() for e in entries], np.int64)
    scalars = np.zeros((len(entries), cpu.SCALARS))
    scalars[:, cpu.SIGN] = -1.0 if hp["maximize"] else 1.0
    scalars[:, cpu.WEIGHT] = [step**decay for step in steps]  # 1 - beta2_t, as the rule's Python pow
    scalars[:, cpu.EPS1] = eps1
    scalars[:, cpu.FLOOR] = eps1 * eps1
    scalars[:, cpu.DECAY] = 1 - lr * wd if wd != 0 else 1.0
    scalars[:, cpu.ROWS_REAL] = [e.layout[1] for e in entries]
    scalars[:, cpu.COLS_REAL] = [e.layout[2] for e in entries]
    (table,) = per_step(device, scalars.astype(dtype))
    totals = torch.empty((len(entries), 2), dtype=torch.float64, device=device)
    matrices = []
    for t, e in enumerate(entries):
        s = table[t]
        if not e.layout[2]:  # a vector or a scalar: its moment and both sums in one pass
            programs = -(-int(sizes[t]) // BLOCK)
            sums = torch.empty((programs, 2), dtype=torch.float64, device=device)
            vector_sums_kernel[(programs,)](
                e.param, e.grad, e.factors[0], s, sums, int(sizes[t]), BLOCK=BLOCK, DOUBLE=double, **options
            )
            totals[t] = sums.sum(dim=0)
            continue
        slices, rows, cols = e.layout[:3]
        row_blocks = -(-rows // ROWS)
        programs = slices * row_blocks
        row_sums = torch.empty(slices * rows, dtype=torch.float64, device=device)
        column_sums = torch.empty((programs, cols), dtype=torch.float64, device=device)
        param_sums = torch.empty(programs, dtype=torch.float64, device=device)
        matrix_sums_kernel[(programs,)](
            e.param, e.grad, row_sums, column_sums, param_sums, rows, cols, row_blocks,
            ROWS=ROWS, COLS=COLS, **options,
        )
        weight = float(scalars[t, cpu.WEIGHT])
        denominator = new_factors(e, row_sums, column_sums, s, weight, eps1, torch_dtype)
        direction_sums = torch.empty(programs, dtype=torch.float64, device=device)
        matrix_update_kernel[(programs,)](
            e.param, e.grad, e.factors[0], e.factors[1], denominator, s, s, direction_sums,
            rows, cols, row_blocks, ROWS=ROWS, COLS=COLS, APPLY=False, DOUBLE=double, **options,
        )
        totals[t, 0] = param_sums.sum()
        totals[t, 1] = direction_sums.sum()
        matrices.append((t, denominator, programs, row_blocks))
    rho = np.array([min(lr, 1 / math.sqrt(step)) for step in steps])
    sizes_of_steps = step_sizes(totals, sizes, rho, eps2, d, torch_dtype)
    for t, denominator, programs, row_blocks in matrices:
        e = entries[t]
        slices, rows, cols = e.layout[:3]
        matrix_update_kernel[(programs,)](
            e.param, e.grad, e.factors[0], e.factors[1], denominator, table[t], sizes_of_steps[t], totals,
            rows, cols, row_blocks, ROWS=ROWS, COLS=COLS, APPLY=True, DOUBLE=double, **options,
        )
    for t, e in enumerate(entries):
        if not e.layout[2]:
            programs = -(-int(sizes[t]) // BLOCK)
            vector_apply_kernel[(programs,)](
                e.param, e.grad, e.factors[0], table[t], sizes_of_steps[t], int(sizes[t]),
                BLOCK=BLOCK, DOUBLE=double, **options,
            )
    bump_versions([t for e in entries for t in e.written])
    for e, step in zip(entries, steps, strict=True):
        store_step(e, float(step))
