"""Adamax, NAdam and RAdam as Triton kernels: :mod:`adamkit.torch.kernels` ``adamax``, ``nadam``
and ``radam`` on a GPU, over the same tables and scalars (each module's ``scalars`` names them)."""

from __future__ import annotations

import triton
import triton.language as tl

from .common import adam_moments, begin, divide, elements, square_root


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
    t, offsets, mask, s, param, g, p = begin(
        addresses, sizes, scalars, block_tensor, block_start, n_addresses, n_scalars, BLOCK, DOUBLE, L2
    )
    exp_avg = elements(addresses, t, 2, offsets, n_addresses, DOUBLE)
    exp_inf = elements(addresses, t, 3, offsets, n_addresses, DOUBLE)
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
    t, offsets, mask, s, param, g, p = begin(
        addresses, sizes, scalars, block_tensor, block_start, n_addresses, n_scalars, BLOCK, DOUBLE, L2
    )
    m, v = adam_moments(
        elements(addresses, t, 2, offsets, n_addresses, DOUBLE),
        elements(addresses, t, 3, offsets, n_addresses, DOUBLE),
        g,
        mask,
        s,
    )
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
    t, offsets, mask, s, param, g, p = begin(
        addresses, sizes, scalars, block_tensor, block_start, n_addresses, n_scalars, BLOCK, DOUBLE, L2
    )
    m, v = adam_moments(
        elements(addresses, t, 2, offsets, n_addresses, DOUBLE),
        elements(addresses, t, 3, offsets, n_addresses, DOUBLE),
        g,
        mask,
        s,
    )
    momentum_step = divide(m, tl.load(s + 7), DOUBLE) * tl.load(s + 8)
    # the adaptive rate where its variance is bounded (per tensor: its step), else SGD with momentum
    adaptive_lr = divide(tl.load(s + 13), square_root(v, DOUBLE) + tl.load(s + 11), DOUBLE) * tl.load(s + 10)
    adapted = p - momentum_step * adaptive_lr * tl.load(s + 12)
    tl.store(param, tl.where(tl.load(s + 9) != 0, adapted, p - momentum_step), mask=mask)


def flags(scalars) -> dict:
    """The switch compiled into these kernels: L2 decay (one group: one value)."""
    return {"L2": bool(scalars[0, 1])}
