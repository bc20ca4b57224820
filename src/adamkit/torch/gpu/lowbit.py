"""Adam and AdamW with 8-bit or bfloat16 moments as Triton kernels: :mod:`adamkit.torch.lowbit.adam_kernels`
on a GPU, reading the same tables (laid out as that module says; :func:`launch` is the CUDA entry of
:data:`adamkit.torch.lowbit.fused.LAUNCHERS`).

Each program takes 1024 values of one tensor (:data:`.launch.BLOCK`, :func:`.launch.program_map`):
at 8 bits, a tile of four quantisation blocks of 256 values, one row each, so that a block's
new ``absmax`` is one reduction along its row. Per value: the old moments decoded, Adam's
update in float32 (the numba kernels' arithmetic: :func:`adamkit.torch.lowbit.adam_kernels.adam_step`),
the new moments encoded. Memory is read and written once, as on the CPU.

The codecs are the numba kernels' portable ones, operation for operation:

* 8-bit **decode**: ``decode[code] * absmax``, a lookup in the map's 256-float table (a
  gather from a table that stays in the cache);
* 8-bit **encode**: the decade formula of :mod:`adamkit.torch.lowbit.dynamic_map`, its
  constants chosen by comparisons with the cuts, after the normalisation of
  :func:`adamkit.torch.lowbit.jit.normalizer`;
* **bfloat16**: the stored bits shifted up; stored with stochastic rounding, the noise of
  element ``i`` hashed from ``i`` and the moment's seed (:func:`adamkit.torch.lowbit.codecs.to_bfloat16`).

Every operation is rounded as on the CPU (no FMAs: :data:`.launch.NO_FMA`), so the stored
bits are the numba kernels'; in Triton's interpreter they are equal (tested).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import triton
import triton.language as tl

from ..lowbit.codecs import BLOCK as QUANT
from ..lowbit.dynamic_map import CUTS, SATURATED, SIGNED, UNSIGNED, DynamicMap
from ..lowbit.dynamic_map import NAN_CODE as SIGNED_NAN
from .common import begin, decayed, elements, new_moments, running_max
from .launch import BLOCK, NO_FMA, on_device, per_step, programs

ROWS = BLOCK // QUANT  # quantisation blocks per program
# (a Triton function reads a module's globals only as constexpr)
SMALLEST_NORMAL = tl.constexpr(2.0**-126)  # :data:`..lowbit.dynamic_map.SMALLEST_NORMAL`
GOLDEN = tl.constexpr(0x9E3779B1)  # :data:`..lowbit.codecs.GOLDEN`
N_CUTS = tl.constexpr(CUTS)
NAN_CODE = tl.constexpr(SIGNED_NAN)  # :data:`..lowbit.dynamic_map.NAN_CODE`
SATURATED_CODE = tl.constexpr(SATURATED)
# one map's constants: its decode table, then its rounding constants (cuts, starts, inv_widths, tops)
DECODE, CUT = tl.constexpr(0), tl.constexpr(256)
START, INV_WIDTH, TOP = (tl.constexpr(256 + CUTS + k * (CUTS + 1)) for k in range(3))
MAP_SIZE = tl.constexpr(256 + 4 * CUTS + 3)


def map_constants(cmap: DynamicMap) -> np.ndarray:
    """What the kernels read of a map, in float32 (the 256-entry decode, padded for the signed map)."""
    decode = np.zeros(256, np.float32)
    decode[: cmap.decode.size] = cmap.decode
    return np.concatenate([decode, cmap.cuts, cmap.starts, cmap.inv_widths, cmap.tops]).astype(np.float32)


#: The signed map's constants, then the unsigned map's (``MAP_SIZE`` floats each).
CONSTANTS = np.concatenate([map_constants(SIGNED), map_constants(UNSIGNED)])
_constants: dict[torch.device, torch.Tensor] = {}  # CONSTANTS, copied once per device


@triton.jit
def _pointer(addresses, t, k, n_addresses, offsets, KIND: tl.constexpr):
    """Pointers to elements ``offsets`` of array ``k`` of tensor ``t``, of type ``KIND``."""
    address = tl.load(addresses + t * n_addresses + k)
    return address.to(tl.pointer_type(KIND), bitcast=True) + offsets


@triton.jit
def _decode(addresses, t, k, n_addresses, offsets, rows, mask, row_mask, constants):
    """The moment stored as array ``k`` (codes) and ``k + 1`` (absmax) of tensor ``t``, decoded."""
    codes = tl.load(_pointer(addresses, t, k, n_addresses, offsets, tl.uint8), mask=mask, other=0)
    scale = tl.load(_pointer(addresses, t, k + 1, n_addresses, rows, tl.float32), mask=row_mask, other=0.0)
    return tl.load(constants + DECODE + codes.to(tl.int32)) * scale[:, None]


@triton.jit
def _largest_magnitude(x, mask):
    """Each row's largest finite ``|x|`` (by its bits, as the numba kernels: NaN and infinities,
    whose bits are the largest, left out)."""
    bits = x.to(tl.int32, bitcast=True) & 0x7FFFFFFF
    bits = tl.where(mask & (bits < 0x7F800000), bits, 0)
    return tl.max(bits, axis=1).to(tl.float32, bitcast=True)


@triton.jit
def _encode(x, addresses, t, k, n_addresses, offsets, rows, mask, row_mask, constants, SIGNED: tl.constexpr):
    """``x`` stored as array ``k`` (codes) and ``k + 1`` (absmax: each row's largest magnitude)."""
    scale = _largest_magnitude(x, mask)
    tl.store(_pointer(addresses, t, k + 1, n_addresses, rows, tl.float32), scale, mask=row_mask)
    # :func:`..lowbit.jit.normalizer`: times 1 / absmax; by one for a zero block; a subnormal
    # absmax (its inverse overflows) and NaN divide
    normal = scale >= SMALLEST_NORMAL
    multiply = normal | (scale == 0.0)
    one = tl.full(scale.shape, 1.0, tl.float32)
    q = x * tl.div_rn(one, tl.where(normal, scale, one))[:, None]
    if tl.max((~multiply).to(tl.int32), axis=0) > 0:  # rare: divisions only where a block needs them
        divisor = tl.where(multiply, one, scale)[:, None] + tl.zeros_like(x)
        q = tl.where(multiply[:, None], q, tl.div_rn(x, divisor))
    bits = q.to(tl.int32, bitcast=True)
    y = (bits & 0x7FFFFFFF).to(tl.float32, bitcast=True)
    # :func:`..lowbit.jit.nearest_code`: the constants of the last decade whose cut y reaches
    start = tl.zeros_like(y) + tl.load(constants + START)
    inv_width = tl.zeros_like(y) + tl.load(constants + INV_WIDTH)
    top = tl.zeros_like(y) + tl.load(constants + TOP)
    for d in tl.static_range(N_CUTS):
        reaches = y >= tl.load(constants + CUT + d)
        start = tl.where(reaches, tl.load(constants + START + d + 1), start)
        inv_width = tl.where(reaches, tl.load(constants + INV_WIDTH + d + 1), inv_width)
        top = tl.where(reaches, tl.load(constants + TOP + d + 1), top)
    z = tl.floor((y - start) * inv_width)
    z = tl.where(z > 0.0, z, 0.0)  # also NaN -> 0
    z = tl.where(z < top, z, top)
    code = (top + z).to(tl.int32)
    # :mod:`..lowbit.dynamic_map`'s rules for signs, tiny positive and non-finite values
    if SIGNED:
        code = code | tl.where(code != 0, (bits >> 24) & 0x80, 0)
        code = tl.where(y < float("inf"), code, NAN_CODE)
    else:
        code = tl.where((x > 0.0) & (code < 1), 1, code)
        code = tl.where(y == y, code, SATURATED_CODE)
    tl.store(_pointer(addresses, t, k, n_addresses, offsets, tl.uint8), code.to(tl.uint8), mask=mask)


@triton.jit
def _adam_step(p, m, v, s):
    """:func:`adamkit.torch.lowbit.adam_kernels.adam_step` (scalars 8, 9, 10: step size,
    bias_correction2_sqrt, eps)."""
    inverse = tl.div_rn(1.0, tl.load(s + 9))
    return p - tl.load(s + 8) * tl.div_rn(m, tl.sqrt_rn(v) * inverse + tl.load(s + 10))


@triton.jit
def adam8_kernel(
    addresses,
    sizes,
    scalars,
    block_tensor,
    block_start,
    constants,
    n_addresses,
    n_scalars,
    ROWS: tl.constexpr,
    L2: tl.constexpr,
    AMSGRAD: tl.constexpr,
):
    """Addresses: param, grad, then codes and absmax of m, v and AMSGRAD's max v."""
    b = tl.program_id(0)
    t = tl.load(block_tensor + b)
    first = tl.load(block_start + b)
    size = tl.load(sizes + t)
    rows = first // 256 + tl.arange(0, ROWS)
    offsets = first + tl.arange(0, ROWS)[:, None] * 256 + tl.arange(0, 256)[None, :]
    mask = offsets < size
    row_mask = rows * 256 < size
    s = scalars + t * n_scalars
    param = elements(addresses, t, 0, offsets, n_addresses, False)
    grad = tl.load(elements(addresses, t, 1, offsets, n_addresses, False), mask=mask, other=0.0)
    g, p = decayed(grad, tl.load(param, mask=mask, other=0.0), tl.load(s), tl.load(s + 2), tl.load(s + 3), L2)
    signed, unsigned = constants, constants + MAP_SIZE
    m = _decode(addresses, t, 2, n_addresses, offsets, rows, mask, row_mask, signed)
    v = _decode(addresses, t, 4, n_addresses, offsets, rows, mask, row_mask, unsigned)
    m, v = new_moments(m, v, g, s)
    _encode(m, addresses, t, 2, n_addresses, offsets, rows, mask, row_mask, signed, True)
    _encode(v, addresses, t, 4, n_addresses, offsets, rows, mask, row_mask, unsigned, False)
    if AMSGRAD:
        v = running_max(_decode(addresses, t, 6, n_addresses, offsets, rows, mask, row_mask, unsigned), v)
        _encode(v, addresses, t, 6, n_addresses, offsets, rows, mask, row_mask, unsigned, False)
    tl.store(param, _adam_step(p, m, v, s), mask=mask)


@triton.jit
def _bf16_load(pointer, mask):
    """bfloat16 values (stored as their 16 bits) as float32: exact."""
    return (tl.load(pointer, mask=mask, other=0).to(tl.uint32) << 16).to(tl.float32, bitcast=True)


@triton.jit
def _bf16_store(pointer, x, index, seed, mask):
    """``x`` rounded to bfloat16 stochastically (:func:`adamkit.torch.lowbit.jit.bf16_store_stochastic`)."""
    noise = ((index + seed) * GOLDEN) >> 16
    out = (x.to(tl.uint32, bitcast=True) + noise) >> 16  # an infinity's low 16 bits are 0: stays infinite
    tl.store(pointer, tl.where(x != x, 0x7FC0, out).to(tl.uint16), mask=mask)


@triton.jit
def adam16_kernel(
    addresses,
    sizes,
    scalars,
    seeds,
    block_tensor,
    block_start,
    n_addresses,
    n_scalars,
    BLOCK: tl.constexpr,
    L2: tl.constexpr,
    AMSGRAD: tl.constexpr,
):
    """Addresses: param, grad, m, v, AMSGRAD's max v (bfloat16); ``seeds[t]``: their rounding seeds."""
    t, offsets, mask, s, param, g, p = begin(
        addresses, sizes, scalars, block_tensor, block_start, n_addresses, n_scalars, BLOCK, False, L2
    )
    index = offsets.to(tl.uint32)  # the element's index in its tensor, mod 2**32
    exp_avg = _pointer(addresses, t, 2, n_addresses, offsets, tl.uint16)
    exp_avg_sq = _pointer(addresses, t, 3, n_addresses, offsets, tl.uint16)
    m, v = new_moments(_bf16_load(exp_avg, mask), _bf16_load(exp_avg_sq, mask), g, s)
    _bf16_store(exp_avg, m, index, tl.load(seeds + 3 * t).to(tl.uint32), mask)
    _bf16_store(exp_avg_sq, v, index, tl.load(seeds + 3 * t + 1).to(tl.uint32), mask)
    if AMSGRAD:
        max_exp_avg_sq = _pointer(addresses, t, 4, n_addresses, offsets, tl.uint16)
        v = running_max(_bf16_load(max_exp_avg_sq, mask), v)
        _bf16_store(max_exp_avg_sq, v, index, tl.load(seeds + 3 * t + 2).to(tl.uint32), mask)
    tl.store(param, _adam_step(p, m, v, s), mask=mask)


def launch(
    entry: Any,
    precision: int,
    addresses: np.ndarray,
    sizes: np.ndarray,
    scalars: np.ndarray,
    seeds: np.ndarray,
    device: torch.device,
) -> None:
    """One launch for a table of Adam's tensors on ``device`` (the arguments of
    :func:`adamkit.torch.lowbit.fused.launch_cpu`, whose numba ``entry`` is not needed here)."""
    device_sizes, block_tensor, block_start = programs(sizes, device)
    if block_tensor.numel() == 0:
        return
    seeds = seeds.astype(np.int64)  # 32-bit seeds
    device_addresses, device_scalars, seed_table = per_step(device, addresses, scalars, seeds)
    table = device_addresses, device_sizes, device_scalars
    shape = addresses.shape[1], scalars.shape[1]
    # scalars 1 and 7 of Adam's row: l2 and amsgrad, the same for every tensor of a group
    switches = {"L2": bool(scalars[0, 1]), "AMSGRAD": bool(scalars[0, 7]), "enable_fp_fusion": NO_FMA}
    if precision == 8:
        if device not in _constants:
            _constants[device] = on_device(CONSTANTS, device)
        constants = _constants[device]
        adam8_kernel[(block_tensor.numel(),)](
            *table, block_tensor, block_start, constants, *shape, ROWS=ROWS, **switches
        )
    else:
        adam16_kernel[(block_tensor.numel(),)](
            *table, seed_table, block_tensor, block_start, *shape, BLOCK=BLOCK, **switches
        )
