r"""LAMB's two passes as Triton kernels: :mod:`adamkit.torch.kernels.lamb` on a GPU, same table.

Scalars (from :func:`adamkit.torch.kernels.lamb.scalars`): 0 sign, 1-3 unused (no L2, weight
decay 0, decay 1), 4 one_minus_beta1, 5 beta2, 6 one_minus_beta2, 7 bias_correction1,
8 bias_correction2_sqrt, 9 eps, 10 weight_decay, 11 decays, 12 lr; the second pass's 13: the
tensor's trust ratio (:func:`adamkit.torch.kernels.lamb.trust_ratios`, computed on the device from
the first pass's sums, :mod:`.launch`).

* :func:`lamb_sums_kernel`: Adam's moments, stored, then over the program's elements
  :math:`\sum\theta^2` and :math:`\sum r^2` in float64 into the program's row of ``partials``;
* :func:`lamb_apply_kernel`: :math:`r` again from the stored moments (the first pass's operations)
  and :math:`\theta \leftarrow \theta - \eta(\rho\,r)`.
"""

from __future__ import annotations

import triton
import triton.language as tl

from .common import adam_moments, begin, divide, elements, program_elements, square_root


@triton.jit
def direction(p, m, v, s, DOUBLE: tl.constexpr, DECAYS: tl.constexpr):
    """:func:`adamkit.torch.kernels.lamb.direction`: the rule's ``r`` in its order of operations."""
    adaptive = divide(square_root(v, DOUBLE), tl.load(s + 8), DOUBLE) + tl.load(s + 9)
    r = divide(divide(m, tl.load(s + 7), DOUBLE), adaptive, DOUBLE)
    if DECAYS:
        r = r + tl.load(s + 10) * p
    return r


@triton.jit
def lamb_sums_kernel(
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
    DECAYS: tl.constexpr,
):
    """The first pass: new moments, and the program's ``(sum p^2, sum r^2)`` (float64) in ``partials``."""
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
    r = direction(p, m, v, s, DOUBLE, DECAYS)
    # squares in float64, as the CPU's (a float32 square could overflow or lose a tiny norm);
    # lanes past the tensor's end hold whatever a masked load left: zeroed before the sums
    p64 = tl.where(mask, p.to(tl.float64), 0.0)
    r64 = tl.where(mask, r.to(tl.float64), 0.0)
    row = partials + 2 * tl.program_id(0)
    tl.store(row, tl.sum(p64 * p64, axis=0))
    tl.store(row + 1, tl.sum(r64 * r64, axis=0))


@triton.jit
def lamb_apply_kernel(
    addresses,
    sizes,
    scalars,
    block_tensor,
    block_start,
    n_addresses,
    n_scalars,
    BLOCK: tl.constexpr,
    DOUBLE: tl.constexpr,
    DECAYS: tl.constexpr,
):
    """The second pass (reads p, m, v; writes p), with the tensor's trust ratio in scalar 13."""
    t, offsets, mask = program_elements(sizes, block_tensor, block_start, BLOCK)
    s = scalars + t * n_scalars
    param = elements(addresses, t, 0, offsets, n_addresses, DOUBLE)
    p = tl.load(param, mask=mask)
    m = tl.load(elements(addresses, t, 2, offsets, n_addresses, DOUBLE), mask=mask)
    v = tl.load(elements(addresses, t, 3, offsets, n_addresses, DOUBLE), mask=mask)
    r = direction(p, m, v, s, DOUBLE, DECAYS)
    tl.store(param, p - tl.load(s + 12) * (tl.load(s + 13) * r), mask=mask)


def lamb_flags(scalars) -> dict:
    """The switches compiled in (one group: one value): L2 (never), the decay added to ``r``."""
    return {"L2": bool(scalars[0, 1]), "DECAYS": bool(scalars[0, 11])}


def apply_flags(scalars) -> dict:
    """The second pass's switch: the decay added to ``r`` (its rows are the first pass's plus one)."""
    return {"DECAYS": bool(scalars[0, 11])}
