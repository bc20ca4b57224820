"""RMSprop and Adagrad as Triton kernels: :mod:`adamkit.torch.kernels` ``rmsprop`` and ``adagrad``
on a GPU, over the same tables and scalars (each module's ``scalars`` names them)."""

from __future__ import annotations

import triton
import triton.language as tl

from .common import begin, divide, elements, square_root


@triton.jit
def rmsprop_kernel(
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
    CENTERED: tl.constexpr,
    MOMENTUM: tl.constexpr,
):
    t, offsets, mask, s, param, g, p = begin(
        addresses, sizes, scalars, block_tensor, block_start, n_addresses, n_scalars, BLOCK, DOUBLE, L2
    )
    one_minus_alpha, lr = tl.load(s + 5), tl.load(s + 10)
    square_avg = elements(addresses, t, 2, offsets, n_addresses, DOUBLE)
    v = tl.load(square_avg, mask=mask) * tl.load(s + 4) + one_minus_alpha * (g * g)
    tl.store(square_avg, v, mask=mask)
    mean_square = v
    if CENTERED:
        grad_avg = elements(addresses, t, 3, offsets, n_addresses, DOUBLE)
        mean = tl.load(grad_avg, mask=mask)
        mean = mean + one_minus_alpha * (g - mean)
        tl.store(grad_avg, mean, mask=mask)
        mean_square = v - mean * mean
    avg = square_root(mean_square, DOUBLE) + tl.load(s + 7)
    if MOMENTUM:
        momentum_buffer = elements(addresses, t, 4, offsets, n_addresses, DOUBLE)
        buffer = tl.load(momentum_buffer, mask=mask) * tl.load(s + 9) + divide(g, avg, DOUBLE)
        tl.store(momentum_buffer, buffer, mask=mask)
        tl.store(param, p - lr * buffer, mask=mask)
    else:
        tl.store(param, p - lr * divide(g, avg, DOUBLE), mask=mask)


@triton.jit
def adagrad_kernel(
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
    sum_ = elements(addresses, t, 2, offsets, n_addresses, DOUBLE)
    total = tl.load(sum_, mask=mask) + g * g
    tl.store(sum_, total, mask=mask)
    std = square_root(total, DOUBLE) + tl.load(s + 5)
    tl.store(param, p - tl.load(s + 4) * divide(g, std, DOUBLE), mask=mask)


def rmsprop_flags(scalars) -> dict:
    """The switches compiled in (one group: one value): L2 decay, ``centered``, momentum."""
    return {"L2": bool(scalars[0, 1]), "CENTERED": bool(scalars[0, 6]), "MOMENTUM": bool(scalars[0, 8])}


def adagrad_flags(scalars) -> dict:
    """The switch compiled in: L2 decay (one group: one value)."""
    return {"L2": bool(scalars[0, 1])}
