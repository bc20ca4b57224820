"""What the Triton kernels share: finding a program's tensor and elements, raw pointers, decay."""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def program_elements(sizes, block_tensor, block_start, BLOCK: tl.constexpr):
    """This program's tensor ``t``, its element offsets and their mask (see :mod:`.launch`)."""
    b = tl.program_id(0)
    t = tl.load(block_tensor + b)
    offsets = tl.load(block_start + b) + tl.arange(0, BLOCK)
    return t, offsets, offsets < tl.load(sizes + t)


@triton.jit
def array_at(addresses, t, k, n_addresses, DOUBLE: tl.constexpr):
    """Array ``k`` of tensor ``t`` (its address in the table) as a pointer to its dtype."""
    address = tl.load(addresses + t * n_addresses + k)
    if DOUBLE:
        return address.to(tl.pointer_type(tl.float64), bitcast=True)
    else:
        return address.to(tl.pointer_type(tl.float32), bitcast=True)


@triton.jit
def decayed(grad, param, sign, weight_decay, decay, L2: tl.constexpr):
    """:func:`adamkit.torch.kernels.jit.decayed`: maximize's sign, then L2 or decoupled decay."""
    g = grad * sign
    p = param * decay
    if L2:
        g = g + weight_decay * p
    return g, p


@triton.jit
def divide(a, b, DOUBLE: tl.constexpr):
    """``a / b`` rounded to nearest (float32's default division on a GPU is approximate)."""
    if DOUBLE:
        return a / b
    else:
        return tl.div_rn(a, b)


@triton.jit
def square_root(x, DOUBLE: tl.constexpr):
    """``sqrt(x)`` rounded to nearest, as torch's."""
    if DOUBLE:
        return tl.sqrt(x)
    else:
        return tl.sqrt_rn(x)
