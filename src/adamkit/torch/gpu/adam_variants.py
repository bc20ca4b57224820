"""Adamax, NAdam and RAdam as Triton kernels: :mod:`adamkit.torch.kernels` ``adamax``, ``nadam``
and ``radam`` on a GPU, over the same tables and scalars (each module's ``scalars`` names them)."""

from __future__ import annotations

import triton
import triton.language as tl

from .common import array_at, decayed, divide, program_elements, square_root


@triton.jit
def adamax_kernel(
    addresses,
    sizes,
    scalars,
    block_tensor,
    block_start,
    n_addresses,
    n_scalars,
    BLOCK: tl.constexpr,
    DOUBLE: tl.constexpr,
    L2: tl.constexpr,
):
    t, offsets, mask = program_elements(sizes, block_tensor, block_start, BLOCK)
    s = scalars + t * n_scalars
    param = array_at(addresses, t, 0, n_addresses, DOUBLE) + offsets
    exp_avg = array_at(addresses, t, 2, n_addresses, DOUBLE) + offsets
    exp_inf = array_at(addresses, t, 3, n_addresses, DOUBLE) + offsets
    grad = tl.load(array_at(addresses, t, 1, n_addresses, DOUBLE) + offsets, mask=mask)
    g, p = decayed(grad, tl.load(param, mask=mask), tl.load(s + 0), tl.load(s + 2), tl.load(s + 3), L2)
    m = tl.load(exp_avg, mask=mask)
    m = m + tl.load(s + 4) * (g - m)
    decayed_inf = tl.load(exp_inf, mask=mask) * tl.load(s + 5)
    bound = tl.abs(g) + tl.load(s + 6)  # eps inside the maximum, as torch
    u = tl.where((decayed_inf > bound) | (decayed_inf != decayed_inf), decayed_inf, bound)
    tl.store(exp_avg, m, mask=mask)
    tl.store(exp_inf, u, mask=mask)
    tl.store(param, p - tl.load(s + 7) * divide(m, u, DOUBLE), mask=mask)


@triton.jit
def nadam_kernel(
    addresses,
    sizes,
    scalars,
    block_tensor,
    block_start,
    n_addresses,
    n_scalars,
    BLOCK: tl.constexpr,
    DOUBLE: tl.constexpr,
    L2: tl.constexpr,
):
    t, offsets, mask = program_elements(sizes, block_tensor, block_start, BLOCK)
    s = scalars + t * n_scalars
    param = array_at(addresses, t, 0, n_addresses, DOUBLE) + offsets
    exp_avg = array_at(addresses, t, 2, n_addresses, DOUBLE) + offsets
    exp_avg_sq = array_at(addresses, t, 3, n_addresses, DOUBLE) + offsets
    grad = tl.load(array_at(addresses, t, 1, n_addresses, DOUBLE) + offsets, mask=mask)
    g, p = decayed(grad, tl.load(param, mask=mask), tl.load(s + 0), tl.load(s + 2), tl.load(s + 3), L2)
    m = tl.load(exp_avg, mask=mask)
    m = m + tl.load(s + 4) * (g - m)
    v = tl.load(exp_avg_sq, mask=mask) * tl.load(s + 5) + tl.load(s + 6) * (g * g)
    tl.store(exp_avg, m, mask=mask)
    tl.store(exp_avg_sq, v, mask=mask)
    denom = square_root(divide(v, tl.load(s + 7), DOUBLE), DOUBLE) + tl.load(s + 8)
    p = p - tl.load(s + 9) * divide(g, denom, DOUBLE)  # this step's gradient ...
    tl.store(param, p - tl.load(s + 10) * divide(m, denom, DOUBLE), mask=mask)  # ... then the momentum


@triton.jit
def radam_kernel(
    addresses,
    sizes,
    scalars,
    block_tensor,
    block_start,
    n_addresses,
    n_scalars,
    BLOCK: tl.constexpr,
    DOUBLE: tl.constexpr,
    L2: tl.constexpr,
):
    t, offsets, mask = program_elements(sizes, block_tensor, block_start, BLOCK)
    s = scalars + t * n_scalars
    param = array_at(addresses, t, 0, n_addresses, DOUBLE) + offsets
    exp_avg = array_at(addresses, t, 2, n_addresses, DOUBLE) + offsets
    exp_avg_sq = array_at(addresses, t, 3, n_addresses, DOUBLE) + offsets
    grad = tl.load(array_at(addresses, t, 1, n_addresses, DOUBLE) + offsets, mask=mask)
    g, p = decayed(grad, tl.load(param, mask=mask), tl.load(s + 0), tl.load(s + 2), tl.load(s + 3), L2)
    m = tl.load(exp_avg, mask=mask)
    m = m + tl.load(s + 4) * (g - m)
    v = tl.load(exp_avg_sq, mask=mask) * tl.load(s + 5) + tl.load(s + 6) * (g * g)
    tl.store(exp_avg, m, mask=mask)
    tl.store(exp_avg_sq, v, mask=mask)
    momentum_step = divide(m, tl.load(s + 7), DOUBLE) * tl.load(s + 8)
    # the adaptive rate where its variance is bounded (per tensor: its step), else SGD with momentum
    adaptive_lr = divide(tl.load(s + 13), square_root(v, DOUBLE) + tl.load(s + 11), DOUBLE) * tl.load(s + 10)
    adapted = p - momentum_step * adaptive_lr * tl.load(s + 12)
    tl.store(param, tl.where(tl.load(s + 9) != 0, adapted, p - momentum_step), mask=mask)


def flags(scalars) -> dict:
    """The switch compiled into these kernels: L2 decay (one group: one value)."""
    return {"L2": bool(scalars[0, 1])}
