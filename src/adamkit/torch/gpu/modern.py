"""Lion, AdaBelief and AdEMAMix as Triton kernels: :mod:`adamkit.torch.kernels` ``lion``,
``adabelief`` and ``ademamix`` on a GPU, over the same tables and scalars (each module's
``scalars`` names them). With ``cautious=True`` Lion's and AdEMAMix's kernels are the second pass
(``CAUTIOUS``: the mask, and the tensor's rescale from :mod:`.cautious`'s count); LAMB's two
passes are :mod:`.lamb`."""

from __future__ import annotations

import triton
import triton.language as tl

from .common import adam_moments, begin, divide, elements, running_max, square_root


@triton.jit
def lion_kernel(
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
    CAUTIOUS: tl.constexpr,
):
    t, offsets, mask, s, param, g, p = begin(
        addresses, sizes, scalars, block_tensor, block_start, n_addresses, n_scalars, BLOCK, DOUBLE, L2
    )
    exp_avg = elements(addresses, t, 2, offsets, n_addresses, DOUBLE)
    m = tl.load(exp_avg, mask=mask)
    c = m * tl.load(s + 4) + g * tl.load(s + 5)
    direction = tl.where(c > 0, 1.0, tl.where(c < 0, -1.0, 0.0)).to(p.dtype)  # torch.sign: NaN -> 0
    if CAUTIOUS:  # where the sign disagrees with the gradient the parameter stays; lr * scale rounded once
        tl.store(param, p - (tl.load(s + 8) * tl.load(s + 10)) * tl.where(direction * g > 0, direction, 0.0),
                 mask=mask)
    else:
        tl.store(param, p - tl.load(s + 8) * direction, mask=mask)
    tl.store(exp_avg, m * tl.load(s + 6) + g * tl.load(s + 7), mask=mask)


@triton.jit
def adabelief_kernel(
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
):
    t, offsets, mask, s, param, g, p = begin(
        addresses, sizes, scalars, block_tensor, block_start, n_addresses, n_scalars, BLOCK, DOUBLE, L2
    )
    exp_avg = elements(addresses, t, 2, offsets, n_addresses, DOUBLE)
    exp_avg_var = elements(addresses, t, 3, offsets, n_addresses, DOUBLE)
    m = tl.load(exp_avg, mask=mask)
    m = m + tl.load(s + 4) * (g - m)
    r = g - m
    var = tl.load(exp_avg_var, mask=mask) * tl.load(s + 5) + tl.load(s + 6) * (r * r) + tl.load(s + 10)
    tl.store(exp_avg, m, mask=mask)
    tl.store(exp_avg_var, var, mask=mask)
    if AMSGRAD:
        max_exp_avg_var = elements(addresses, t, 4, offsets, n_addresses, DOUBLE)
        var = running_max(tl.load(max_exp_avg_var, mask=mask), var)
        tl.store(max_exp_avg_var, var, mask=mask)
    denom = divide(square_root(var, DOUBLE), tl.load(s + 9), DOUBLE) + tl.load(s + 10)
    tl.store(param, p - tl.load(s + 8) * divide(m, denom, DOUBLE), mask=mask)


@triton.jit
def ademamix_kernel(
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
    DECAYS: tl.constexpr,
    CAUTIOUS: tl.constexpr,
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
    exp_avg_slow = elements(addresses, t, 4, offsets, n_addresses, DOUBLE)
    slow = tl.load(exp_avg_slow, mask=mask)
    slow = slow + tl.load(s + 7) * (g - slow)
    tl.store(exp_avg_slow, slow, mask=mask)
    numerator = divide(m, tl.load(s + 8), DOUBLE) + tl.load(s + 9) * slow
    if CAUTIOUS:  # the rule's numerator * (mask * scale)
        numerator = numerator * (tl.load(s + 16) * (numerator * g > 0).to(numerator.dtype))
    denom = divide(square_root(v, DOUBLE), tl.load(s + 10), DOUBLE) + tl.load(s + 11)
    new = p - tl.load(s + 12) * divide(numerator, denom, DOUBLE)
    if DECAYS:  # decoupled, at the old parameter
        new = new - tl.load(s + 14) * p
    tl.store(param, new, mask=mask)


def lion_flags(scalars) -> dict:
    """The switches compiled in (one group: one value): L2 decay (never, for Lion: its decay is
    decoupled), cautious masking."""
    return {"L2": bool(scalars[0, 1]), "CAUTIOUS": bool(scalars[0, 9])}


def adabelief_flags(scalars) -> dict:
    """The switches compiled in (one group: one value): L2 decay, AMSGrad."""
    return {"L2": bool(scalars[0, 1]), "AMSGRAD": bool(scalars[0, 7])}


def ademamix_flags(scalars) -> dict:
    """The switches compiled in (one group: one value): L2 (never), decoupled decay, cautious masking."""
    return {"L2": bool(scalars[0, 1]), "DECAYS": bool(scalars[0, 13]), "CAUTIOUS": bool(scalars[0, 15])}
