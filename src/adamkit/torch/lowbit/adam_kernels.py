r"""Adam and AdamW with 8-bit or bfloat16 moments, fused: decode, update, encode in one sweep over memory.

The update is :mod:`adamkit.rules.adam`'s, in float32 and in its order (the arithmetic of
:mod:`adamkit.torch.kernels.adam`, whose host code computes the per-step scalars, but for
one division by a scalar done as a multiplication: :func:`adam_step`); only where the
moments live differs:

* **16-bit**: ``m``, ``v`` (and AMSGrad's ``max v``) are bfloat16, read and written as
  their 16 bits (:func:`.jit.bf16_load`, :func:`.jit.bf16_store_stochastic`: rounded
  stochastically, see :func:`.codecs.to_bfloat16`). 20 bytes move per parameter (read
  p, g, m, v; write p, m, v) instead of 28.
* **8-bit**: each block of 256 values has 256 codes and one float32 ``absmax``. Per
  block, the old moments are decoded into buffers of 256 floats (in the L1 cache); the
  update runs over them (a vectorised loop, as the fp32 kernel's), keeping the new
  moments there and taking their largest magnitudes; then the codes are written relative
  to the new ``absmax``. The codec is the widest the CPU runs (:data:`decode`,
  :data:`encode`: AVX-512 or AVX2 vectors, else portable loops), and the memory of the
  block ``AHEAD`` blocks on is requested while this one is computed. Memory is read and
  written once: about 16 bytes per parameter.

Work layout: one parallel loop over *units* of up to 64 blocks (16,384 values) of every
tensor of the group, as :mod:`adamkit.torch.kernels.jit` lays out the fp32 kernels (its
launchers call :func:`adam8_entry` or :func:`adam16_entry` for each unit); a unit never
straddles two tensors, and its blocks start at multiples of 256 of their tensor.
Row ``t`` of ``addresses`` is, for 8 bits, ``param, grad, m codes, m absmax, v codes,
v absmax, max-v codes, max-v absmax`` (0 for the last two without AMSGrad), or for a tensor
under 8-bit blocks' minimum size, which keeps float32 moments, ``param, grad, m, 0, v, 0,
max v, 0`` (:func:`float32_moments`: one call for the whole group); for 16 bits
``param, grad, m, v, max v``, and row ``t`` of ``seeds`` their rounding seeds. Row ``t``
of ``scalars`` is :func:`adamkit.torch.kernels.adam.scalars`' arguments in float32.
"""

from __future__ import annotations

import numpy as np

from ..kernels.adam import adam_row
from ..kernels.jit import BLOCK as JIT_BLOCK
from ..kernels.jit import SPLIT_BLOCK, block_kernel, decayed, element, locate, memory_at, table
from . import avx2, simd, vbmi
from .dynamic_map import SIGNED, UNSIGNED, DynamicMap
from .jit import (
    INFINITY_BITS,
    add32,
    any_magnitude_max,
    bf16_load,
    bf16_store_stochastic,
    decode_block,
    encode_block,
    finite_magnitude_max,
    prefetch,
    rounding,
)

BLOCK = 256  # values per absmax (the quantisation block)
UNIT = JIT_BLOCK  # values per unit of parallel work: the fp32 tables' blocks (split: SPLIT_BLOCK)
# a unit must hold whole quantisation blocks, split over threads too (jit.with_split)
assert UNIT % BLOCK == 0 and SPLIT_BLOCK % BLOCK == 0
AHEAD = 16  # blocks between the one updated and the one prefetched


def map_constants(cmap: DynamicMap) -> tuple[np.ndarray, ...]:
    """What the codec reads of a map: its decode table, :func:`.jit.rounding`, :func:`.avx2.tables`,
    :func:`.vbmi.planes`, :func:`.simd.tables`."""
    return cmap.decode, rounding(cmap), avx2.tables(cmap), vbmi.planes(cmap.decode), simd.tables(cmap)


#: The maps the 8-bit kernels read, signed then unsigned.
MAPS = (map_constants(SIGNED), map_constants(UNSIGNED))


# The codec, chosen at import for the CPU (each compiles only where it runs); same signatures.
@element
def _decode_vbmi(codes, constants, scale, out, signed):
    table, _, vector, planes, _ = constants
    vbmi.decode_block_vbmi(codes, planes, scale, out, signed, vector, table)


@element
def _decode_vector(codes, constants, scale, out, signed):
    table, _, vector, _, _ = constants
    avx2.decode_block_avx2(codes, vector, scale, out, signed, table)


@element
def _decode_portable(codes, constants, scale, out, signed):
    decode_block(codes, constants[0], scale, out)


@element
def _encode_avx512(values, scale_bits, codes, signed, constants, finite):
    _, portable, _, _, vector = constants
    return simd.encode_block_simd(values, scale_bits, codes, signed, vector, portable, finite)


@element
def _encode_avx2(values, scale_bits, codes, signed, constants, finite):
    _, portable, vector, _, _ = constants
    return avx2.encode_block_avx2(values, scale_bits, codes, signed, vector, portable)


@element
def _encode_portable(values, scale_bits, codes, signed, constants, finite):
    return encode_block(values, scale_bits, codes, signed, constants[1])


#: ``decode(codes, constants, scale, out, signed)``: ``out = decode[codes] * scale``, 64 values a
#: step by byte lookups with AVX-512 VBMI (:mod:`.vbmi`), 8 with AVX2 (:mod:`.avx2`), else the portable loop.
decode = _decode_vbmi if vbmi.AVAILABLE else _decode_vector if avx2.AVAILABLE else _decode_portable
#: ``encode(values, scale_bits, codes, signed, constants, finite) -> scale``: the codes of ``values``,
#: by the widest encoder the CPU runs: AVX-512 (:mod:`.simd`), AVX2 (:mod:`.avx2`) or portable;
#: ``finite`` (every value finite, the scale their largest magnitude) lets AVX-512 take its shorter step.
encode = _encode_avx512 if simd.AVAILABLE else _encode_avx2 if avx2.AVAILABLE else _encode_portable


_U8 = np.zeros(1, np.uint8)
_U16 = np.zeros(1, np.uint16)
_U64 = np.zeros(1, np.uint64)


@element
def moments(g, m_old, v_old, one_minus_beta1, beta2, one_minus_beta2):
    """Adam's new moments from the old ones: ``lerp(m, g, 1 - beta1)`` and ``v*beta2 + (1-beta2)g^2``."""
    return m_old + one_minus_beta1 * (g - m_old), v_old * beta2 + one_minus_beta2 * (g * g)


@element
def adam_step(p, m, v, step_size, inverse_bias_correction2_sqrt, eps):
    """``p - step_size * m / (sqrt(v) / bias_correction2_sqrt + eps)``, the rule's step, with the
    division by the scalar done as a multiplication by its inverse (within an ulp of the rule's
    rounding): the divider, which ``sqrt`` and the remaining division also need, bounds these loops."""
    return p - step_size * (m / (np.sqrt(v) * inverse_bias_correction2_sqrt + eps))


@element
def running_max(old, v):
    """AMSGrad's ``maximum(max_exp_avg_sq, exp_avg_sq)``, NaN propagating as torch.maximum."""
    return old if (old > v or old != old) else v


@element
def block_scale(largest, values):
    """A block's scale from :func:`.jit.any_magnitude_max` of its new ``values``: ``(bits, finite)``,
    the bits of its largest finite magnitude and whether every value is finite (a second pass over
    the block finds that largest where one is not: rare, a step with a NaN or infinite moment)."""
    if largest < INFINITY_BITS:
        return largest, True
    return finite_magnitude_max(values), False


@block_kernel
def adam_update(param, grad, m, v, s):
    """The parameters of one block updated; ``m`` and ``v`` (decoded) replaced by the new moments.

    Returns, per moment, :func:`block_scale` of its new values (integer maxima vectorise).
    """
    sign, l2, weight_decay, decay = s[0], s[1] != 0, s[2], s[3]
    one_minus_beta1, beta2, one_minus_beta2 = s[4], s[5], s[6]
    step_size, inverse, eps = s[8], np.float32(1.0) / s[9], s[10]
    m_max, v_max = np.int32(0), np.int32(0)
    for i in range(param.size):
        g, p = decayed(grad[i], param[i], sign, l2, weight_decay, decay)
        m_new, v_new = moments(g, m[i], v[i], one_minus_beta1, beta2, one_minus_beta2)
        m[i] = m_new
        v[i] = v_new
        m_max = any_magnitude_max(m_max, m_new)
        v_max = any_magnitude_max(v_max, v_new)
        param[i] = adam_step(p, m_new, v_new, step_size, inverse, eps)
    return block_scale(m_max, m), block_scale(v_max, v), (np.int32(0), True)


@block_kernel
def adam_update_amsgrad(param, grad, m, v, x, s):
    """As :func:`adam_update`, and ``x`` (decoded) replaced by the running maximum of ``v``."""
    sign, l2, weight_decay, decay = s[0], s[1] != 0, s[2], s[3]
    one_minus_beta1, beta2, one_minus_beta2 = s[4], s[5], s[6]
    step_size, inverse, eps = s[8], np.float32(1.0) / s[9], s[10]
    m_max, v_max, x_max = np.int32(0), np.int32(0), np.int32(0)
    for i in range(param.size):
        g, p = decayed(grad[i], param[i], sign, l2, weight_decay, decay)
        m_new, v_new = moments(g, m[i], v[i], one_minus_beta1, beta2, one_minus_beta2)
        m[i] = m_new
        v[i] = v_new
        m_max = any_magnitude_max(m_max, m_new)
        v_max = any_magnitude_max(v_max, v_new)
        v_new = running_max(x[i], v_new)
        x[i] = v_new
        x_max = any_magnitude_max(x_max, v_new)
        param[i] = adam_step(p, m_new, v_new, step_size, inverse, eps)
    return block_scale(m_max, m), block_scale(v_max, v), block_scale(x_max, x)


@element
def float32_moments(param, grad, a, lo, hi, s, like, amsgrad):
    """A row of float32 moments (``m``, ``v``, ``max v`` at ``a[2]``, ``a[4]``, ``a[6]``): a tensor too
    small for 8-bit blocks, which keeps 32-bit moments, stepped in the same call as the 8-bit ones
    by :func:`adamkit.torch.kernels.adam.adam_row`, the fp32 engine's update (the same bits)."""
    m, v = memory_at(a[2], lo, hi, like), memory_at(a[4], lo, hi, like)
    adam_row(param, grad, m, v, memory_at(a[6], lo, hi if amsgrad else lo, like), s, amsgrad, False)


@element
def adam8_unit(u, addresses, sizes, starts, scalars, signed_map, unsigned_map, amsgrad, unit):
    """Unit ``u``: each 256-value block decoded, updated and encoded, its moments in an L1-sized buffer.

    ``amsgrad`` is a constant of the entry point that inlines this function: numba drops the
    other branch before compiling, so each entry compiles only its own decoders and encoders
    (a first step compiles about a third faster than with both in one entry).
    """
    t, lo, hi = locate(u, sizes, starts, unit)
    a, s = addresses[t], scalars[t]
    first, last = lo // BLOCK, (hi + BLOCK - 1) // BLOCK
    param = memory_at(a[0], lo, hi, scalars[0])
    grad = memory_at(a[1], lo, hi, scalars[0])
    if a[3] == 0:  # float32 moments (no absmax): the fp32 kernel's own update, bit for bit
        float32_moments(param, grad, a, lo, hi, s, scalars[0], amsgrad)
        return
    m_codes = memory_at(a[2], lo, hi, _U8)
    m_absmax = memory_at(a[3], first, last, scalars[0])
    v_codes = memory_at(a[4], lo, hi, _U8)
    v_absmax = memory_at(a[5], first, last, scalars[0])
    x_codes = memory_at(a[6], lo, hi if amsgrad else lo, _U8)
    x_absmax = memory_at(a[7], first, last if amsgrad else first, scalars[0])
    buffers = np.empty((3, BLOCK), np.float32)
    for b in range(last - first):
        j, k = b * BLOCK, min((b + 1) * BLOCK, hi - lo)
        m, v, x = buffers[0, : k - j], buffers[1, : k - j], buffers[2, : k - j]
        ahead = k + AHEAD * BLOCK  # the memory of a later block, requested now: it arrives meanwhile
        for line in range(0, BLOCK, 16):
            prefetch(param, ahead + line)
            prefetch(grad, ahead + line)
        for line in range(0, BLOCK, 64):
            prefetch(m_codes, ahead + line)
            prefetch(v_codes, ahead + line)
        decode(m_codes[j:k], signed_map, m_absmax[b], m, True)
        decode(v_codes[j:k], unsigned_map, v_absmax[b], v, False)
        if amsgrad:
            decode(x_codes[j:k], unsigned_map, x_absmax[b], x, False)
            scales = adam_update_amsgrad(param[j:k], grad[j:k], m, v, x, s)
            (m_max, m_ok), (v_max, v_ok), (x_max, x_ok) = scales
            x_absmax[b] = encode(x, x_max, x_codes[j:k], False, unsigned_map, x_ok)
        else:
            (m_max, m_ok), (v_max, v_ok), _ = adam_update(param[j:k], grad[j:k], m, v, s)
        m_absmax[b] = encode(m, m_max, m_codes[j:k], True, signed_map, m_ok)
        v_absmax[b] = encode(v, v_max, v_codes[j:k], False, unsigned_map, v_ok)


def adam8_entry(u, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """The C entry point of :func:`adam8_unit` without AMSGrad
    (:func:`adamkit.torch.kernels.jit.entry_signature`); the maps are :data:`MAPS`, compiled in as
    constants."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    adam8_unit(u, a, z, s, c, MAPS[0], MAPS[1], False, block)


def adam8_amsgrad_entry(
    u, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count
):
    """:func:`adam8_entry` with AMSGrad's running maximum of the second moment."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    adam8_unit(u, a, z, s, c, MAPS[0], MAPS[1], True, block)


@block_kernel
def adam16_unit(u, addresses, sizes, starts, scalars, seeds, unit):
    """Unit ``u``: bfloat16 moments loaded, updated in float32, rounded back stochastically.

    ``seeds[t]``: the rounding seeds of ``m``, ``v`` and ``max v`` (:func:`.codecs.rounding_seed`).
    """
    t, lo, hi = locate(u, sizes, starts, unit)
    a, s = addresses[t], scalars[t]
    sign, l2, weight_decay, decay = s[0], s[1] != 0, s[2], s[3]
    one_minus_beta1, beta2, one_minus_beta2 = s[4], s[5], s[6]
    amsgrad, step_size, inverse, eps = s[7] != 0, s[8], np.float32(1.0) / s[9], s[10]
    m_seed, v_seed, x_seed = seeds[t, 0], seeds[t, 1], seeds[t, 2]
    param = memory_at(a[0], lo, hi, scalars)
    grad = memory_at(a[1], lo, hi, scalars)
    exp_avg = memory_at(a[2], lo, hi, _U16)
    exp_avg_sq = memory_at(a[3], lo, hi, _U16)
    max_exp_avg_sq = memory_at(a[4], lo, hi if amsgrad else lo, _U16)
    # The rounding's element index ``lo + i`` is counted in 32 bits (it is used mod 2**32), so
    # that its vector is 8 lanes wide, not two vectors of 4 64-bit lanes narrowed each step.
    index = add32(lo, 0)
    # Two loops, not one with a branch inside: LLVM vectorises each but not the branching one.
    if amsgrad:
        for i in range(hi - lo):
            g, p = decayed(grad[i], param[i], sign, l2, weight_decay, decay)
            m_old, v_old = bf16_load(exp_avg[i]), bf16_load(exp_avg_sq[i])
            m, v = moments(g, m_old, v_old, one_minus_beta1, beta2, one_minus_beta2)
            exp_avg[i] = bf16_store_stochastic(m, index, m_seed)
            exp_avg_sq[i] = bf16_store_stochastic(v, index, v_seed)
            v = running_max(bf16_load(max_exp_avg_sq[i]), v)
            max_exp_avg_sq[i] = bf16_store_stochastic(v, index, x_seed)
            param[i] = adam_step(p, m, v, step_size, inverse, eps)
            index = add32(index, 1)
    else:
        for i in range(hi - lo):
            g, p = decayed(grad[i], param[i], sign, l2, weight_decay, decay)
            m_old, v_old = bf16_load(exp_avg[i]), bf16_load(exp_avg_sq[i])
            m, v = moments(g, m_old, v_old, one_minus_beta1, beta2, one_minus_beta2)
            exp_avg[i] = bf16_store_stochastic(m, index, m_seed)
            exp_avg_sq[i] = bf16_store_stochastic(v, index, v_seed)
            param[i] = adam_step(p, m, v, step_size, inverse, eps)
            index = add32(index, 1)


def adam16_entry(u, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """The C entry point of :func:`adam16_unit` (:func:`adamkit.torch.kernels.jit.entry_signature`);
    ``extra`` is the address of the ``tensors x 3`` rounding seeds."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    seeds = memory_at(extra, 0, tensors * extra_count, _U64).reshape((tensors, extra_count))
    adam16_unit(u, a, z, s, c, seeds, block)
