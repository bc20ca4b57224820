r"""The first pass of ``cautious=True`` as Triton kernels: :mod:`adamkit.torch.kernels.cautious` on a GPU.

Each kernel recomputes its family's update of every element exactly as the family's kernel does,
writes nothing, and stores the program's count of coordinates whose update agrees with the
gradient (:math:`u g > 0`) as a float64 in its row of ``partials`` (an integer: exact, in any
order of summation). :mod:`.launch` adds each tensor's rows, the host's
:func:`adamkit.torch.kernels.cautious.rescale` turns them into the factor on the device, and the
family's own kernel (:mod:`.adam`, :mod:`.modern`, its ``CAUTIOUS`` switch on) applies the step.
The scalars are the family's (each kernel module's ``scalars`` names them).
"""

from __future__ import annotations

import triton
import triton.language as tl

from .common import begin, divide, elements, new_moments, program_elements, running_max, square_root


@triton.jit
def store_count(partials, agree, mask):
    """This program's count of ``agree`` within ``mask``, as a float64 in ``partials``."""
    count = tl.sum((agree & mask).to(tl.int32), axis=0)
    tl.store(partials + tl.program_id(0), count.to(tl.float64))


@triton.jit
def adam_count_kernel(
    addresses,
    sizes,
    scalars,
    block_tensor,
    block_start,
    partials,
    n_addresses,
    n_scalars,
    BLOCK: tl.constexpr,
    DOUBLE: tl.constexpr,
    L2: tl.constexpr,
    AMSGRAD: tl.constexpr,
):
    """:func:`adamkit.torch.kernels.adam.adam_agreeing`: ``u = m / (sqrt(v)/c2 + eps)`` (reads p, g, m, v)."""
    t, offsets, mask, s, param, g, p = begin(
        addresses, sizes, scalars, block_tensor, block_start, n_addresses, n_scalars, BLOCK, DOUBLE, L2
    )
    m = tl.load(elements(addresses, t, 2, offsets, n_addresses, DOUBLE), mask=mask)
    v = tl.load(elements(addresses, t, 3, offsets, n_addresses, DOUBLE), mask=mask)
    m, v = new_moments(m, v, g, s)
    if AMSGRAD:
        v = running_max(tl.load(elements(addresses, t, 4, offsets, n_addresses, DOUBLE), mask=mask), v)
    denom = divide(square_root(v, DOUBLE), tl.load(s + 9), DOUBLE) + tl.load(s + 10)
    u = divide(m, denom, DOUBLE)
    store_count(partials, u * g > 0, mask)


@triton.jit
def lion_count_kernel(
    addresses,
    sizes,
    scalars,
    block_tensor,
    block_start,
    partials,
    n_addresses,
    n_scalars,
    BLOCK: tl.constexpr,
    DOUBLE: tl.constexpr,
):
    """:func:`adamkit.torch.kernels.lion.lion_agreeing`: ``sign(m b1 + g (1 - b1))`` (reads g, m)."""
    t, offsets, mask = program_elements(sizes, block_tensor, block_start, BLOCK)
    s = scalars + t * n_scalars
    g = tl.load(elements(addresses, t, 1, offsets, n_addresses, DOUBLE), mask=mask) * tl.load(s)
    m = tl.load(elements(addresses, t, 2, offsets, n_addresses, DOUBLE), mask=mask)
    c = m * tl.load(s + 4) + g * tl.load(s + 5)
    direction = tl.where(c > 0, 1.0, tl.where(c < 0, -1.0, 0.0))  # torch.sign: NaN -> 0
    store_count(partials, direction * g > 0, mask)


@triton.jit
def ademamix_count_kernel(
    addresses,
    sizes,
    scalars,
    block_tensor,
    block_start,
    partials,
    n_addresses,
    n_scalars,
    BLOCK: tl.constexpr,
    DOUBLE: tl.constexpr,
):
    """:func:`adamkit.torch.kernels.ademamix.ademamix_agreeing`: the numerator
    ``m1/(1 - b1^t) + alpha m2`` of the new moments (reads g, m1, m2)."""
    t, offsets, mask = program_elements(sizes, block_tensor, block_start, BLOCK)
    s = scalars + t * n_scalars
    g = tl.load(elements(addresses, t, 1, offsets, n_addresses, DOUBLE), mask=mask) * tl.load(s)
    m = tl.load(elements(addresses, t, 2, offsets, n_addresses, DOUBLE), mask=mask)
    slow = tl.load(elements(addresses, t, 4, offsets, n_addresses, DOUBLE), mask=mask)
    m = m + tl.load(s + 4) * (g - m)
    slow = slow + tl.load(s + 7) * (g - slow)
    numerator = divide(m, tl.load(s + 8), DOUBLE) + tl.load(s + 9) * slow
    store_count(partials, numerator * g > 0, mask)


def adam_count_flags(scalars) -> dict:
    """Adam's switches (one group: one value): L2 decay, AMSGrad."""
    return {"L2": bool(scalars[0, 1]), "AMSGRAD": bool(scalars[0, 7])}


def no_flags(scalars) -> dict:
    """Lion's and AdEMAMix's counts have no switch (their decay does not touch the gradient)."""
    return {}
