"""What the Triton kernels share: a program's tensor and elements, raw pointers, decay, Adam's moments."""

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
def elements(addresses, t, k, offsets, n_addresses, DOUBLE: tl.constexpr):
    """Pointers to elements ``offsets`` of array ``k`` of tensor ``t`` (its address in the table)."""
    address = tl.load(addresses + t * n_addresses + k)
    if DOUBLE:
        return address.to(tl.pointer_type(tl.float64), bitcast=True) + offsets
    else:
        return address.to(tl.pointer_type(tl.float32), bitcast=True) + offsets


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


@triton.jit
def begin(addresses, sizes, scalars, block_tensor, block_start, n_addresses, n_scalars, BLOCK, DOUBLE, L2):
    """What every kernel does first: its tensor ``t``, offsets and mask, the tensor's scalars ``s``,
    the parameter's pointers, and the gradient and parameter after maximize and weight decay
    (scalars 0, 2, 3 of every family: sign, weight_decay, decay; 1, l2, is compiled in as ``L2``)."""
    t, offsets, mask = program_elements(sizes, block_tensor, block_start, BLOCK)
    s = scalars + t * n_scalars
    param = elements(addresses, t, 0, offsets, n_addresses, DOUBLE)
    grad = tl.load(elements(addresses, t, 1, offsets, n_addresses, DOUBLE), mask=mask)
    g, p = decayed(grad, tl.load(param, mask=mask), tl.load(s + 0), tl.load(s + 2), tl.load(s + 3), L2)
    return t, offsets, mask, s, param, g, p


@triton.jit
def new_moments(m, v, g, s):
    """Adam's new moments from the old: ``lerp(m, g, 1 - beta1)`` and ``v*beta2 + (1-beta2)g^2``
    (scalars 4, 5, 6 of the Adam, NAdam and RAdam families)."""
    return m + tl.load(s + 4) * (g - m), v * tl.load(s + 5) + tl.load(s + 6) * (g * g)


@triton.jit
def adam_moments(exp_avg, exp_avg_sq, g, mask, s):
    """Adam's new moments (:func:`new_moments`), loaded, stored and returned."""
    m, v = new_moments(tl.load(exp_avg, mask=mask), tl.load(exp_avg_sq, mask=mask), g, s)
    tl.store(exp_avg, m, mask=mask)
    tl.store(exp_avg_sq, v, mask=mask)
    return m, v


@triton.jit
def running_max(old, v):
    """AMSGrad's ``maximum(max_exp_avg_sq, exp_avg_sq)``, NaN propagating as torch.maximum."""
    return tl.where((old > v) | (old != old), old, v)
