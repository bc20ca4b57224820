"""SGD with momentum as a Triton kernel: :mod:`adamkit.torch.kernels.sgd` on a GPU, same table.

Scalars (from :func:`adamkit.torch.kernels.sgd.scalars`): 0 sign, 1 l2, 2 weight_decay,
3 decay, 4 lr, 5 has_momentum, 6 first (the buffer starts as the gradient), 7 momentum,
8 one_minus_dampening, 9 nesterov. ``l2``, ``has_momentum`` and ``nesterov`` are compiled in;
``first`` differs per tensor (a tensor whose buffer exists beside one whose buffer does not).
"""

from __future__ import annotations

import triton
import triton.language as tl

from .common import begin, elements


@triton.jit
def sgd_kernel(
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
    MOMENTUM: tl.constexpr,
    NESTEROV: tl.constexpr,
):
    t, offsets, mask, s, param, g, p = begin(
        addresses, sizes, scalars, block_tensor, block_start, n_addresses, n_scalars, BLOCK, DOUBLE, L2
    )
    lr = tl.load(s + 4)
    direction = g
    if MOMENTUM:
        first, momentum, one_minus_dampening = tl.load(s + 6), tl.load(s + 7), tl.load(s + 8)
        momentum_buffer = elements(addresses, t, 2, offsets, n_addresses, DOUBLE)
        old = tl.where(first != 0, 0.0, tl.load(momentum_buffer, mask=mask, other=0.0))  # new: not read
        buffer = tl.where(first != 0, g, old * momentum + one_minus_dampening * g)
        tl.store(momentum_buffer, buffer, mask=mask)
        if NESTEROV:
            direction = g + momentum * buffer
        else:
            direction = buffer
    tl.store(param, p - lr * direction, mask=mask)


def flags(scalars) -> dict:
    """The switches compiled into the kernel, from the table's first row (one group: one value)."""
    return {"L2": bool(scalars[0, 1]), "MOMENTUM": bool(scalars[0, 5]), "NESTEROV": bool(scalars[0, 9])}
