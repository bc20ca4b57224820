"""Schedule-Free AdamW as a Triton kernel: :mod:`adamkit.torch.kernels.schedulefree` on a GPU, over the
same table and scalars (that module's ``scalars`` names them: the step's rate, the average's weight
and the bias correction come from the host)."""

from __future__ import annotations

import triton
import triton.language as tl

from .common import divide, elements, program_elements, square_root


@triton.jit
def schedulefree_kernel(
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
    t, offsets, mask = program_elements(sizes, block_tensor, block_start, BLOCK)
    s = scalars + t * n_scalars
    param = elements(addresses, t, 0, offsets, n_addresses, DOUBLE)
    z_at = elements(addresses, t, 2, offsets, n_addresses, DOUBLE)
    exp_avg_sq = elements(addresses, t, 3, offsets, n_addresses, DOUBLE)
    g = tl.load(elements(addresses, t, 1, offsets, n_addresses, DOUBLE), mask=mask)
    y = tl.load(param, mask=mask)
    z = tl.load(z_at, mask=mask)
    v = tl.load(exp_avg_sq, mask=mask) * tl.load(s + 4) + tl.load(s + 5) * (g * g)
    root = square_root(divide(v, tl.load(s + 6), DOUBLE), DOUBLE)
    normalised = divide(g, root + tl.load(s + 7), DOUBLE)
    if DECAYS:  # at y, before y moves
        normalised = normalised + tl.load(s + 9) * y
    tl.store(exp_avg_sq, v, mask=mask)
    tl.store(param, (y + tl.load(s + 10) * (z - y)) + tl.load(s + 11) * normalised, mask=mask)
    tl.store(z_at, z - tl.load(s + 12) * normalised, mask=mask)


def schedulefree_flags(scalars) -> dict:
    """The switch compiled in (one group: one value): weight decay."""
    return {"DECAYS": bool(scalars[0, 8])}
