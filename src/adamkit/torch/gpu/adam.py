"""Adam and AdamW as a Triton kernel: :mod:`adamkit.torch.kernels.adam` on a GPU, same table.

Scalars (row ``t`` of ``scalars``, from :func:`adamkit.torch.kernels.adam.scalars`): 0 sign,
1 l2, 2 weight_decay, 3 decay, 4 one_minus_beta1, 5 beta2, 6 one_minus_beta2, 7 amsgrad,
8 step_size, 9 bias_correction2_sqrt, 10 eps, 11 cautious, 12 scale (``cautious=True``: the
tensor's rescale, from the count of :mod:`.cautious`'s first pass). ``l2``, ``amsgrad`` and
``cautious`` are the same for every tensor of a group and are compiled in (``L2``, ``AMSGRAD``,
``CAUTIOUS``); the rest are read per tensor.
"""

from __future__ import annotations

import triton
import triton.language as tl

from .common import adam_moments, begin, divide, elements, running_max, square_root


@triton.jit
def adam_kernel(
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
    AMSGRAD: tl.constexpr,
    CAUTIOUS: tl.constexpr,
):
    t, offsets, mask, s, param, g, p = begin(
        addresses, sizes, scalars, block_tensor, block_start, n_addresses, n_scalars, BLOCK, DOUBLE, L2
    )
    step_size, bias_correction2_sqrt, eps = tl.load(s + 8), tl.load(s + 9), tl.load(s + 10)
    m, v = adam_moments(
        elements(addresses, t, 2, offsets, n_addresses, DOUBLE),
        elements(addresses, t, 3, offsets, n_addresses, DOUBLE),
        g,
        mask,
        s,
    )
    if AMSGRAD:  # maximum(max_exp_avg_sq, exp_avg_sq), NaN propagating as torch.maximum
        max_exp_avg_sq = elements(addresses, t, 4, offsets, n_addresses, DOUBLE)
        old = tl.load(max_exp_avg_sq, mask=mask)
        v = running_max(old, v)
        tl.store(max_exp_avg_sq, v, mask=mask)
    denom = divide(square_root(v, DOUBLE), bias_correction2_sqrt, DOUBLE) + eps
    u = divide(m, denom, DOUBLE)
    if CAUTIOUS:  # the rule's u * (mask * scale)
        u = u * (tl.load(s + 12) * (u * g > 0).to(u.dtype))
    tl.store(param, p - step_size * u, mask=mask)


def flags(scalars) -> dict:
    """The switches compiled into the kernel, from the table's first row (one group: one value)."""
    return {"L2": bool(scalars[0, 1]), "AMSGRAD": bool(scalars[0, 7]), "CAUTIOUS": bool(scalars[0, 11])}
