"""The state codecs as numba helpers, for kernels that decode, update and encode in one pass.

Each helper performs the same float32 operations as the torch codec in :mod:`.codecs`
(the tests compare them bit for bit):

* bfloat16: a float32 whose low 16 bits are dropped. Loading shifts the stored 16 bits
  up; storing rounds stochastically, with random bits hashed from the element's index
  and a seed (:func:`.codecs.to_bfloat16`), and stores any NaN as the quiet NaN ``0x7FC0``.
* 8-bit dynamic codes (:mod:`.dynamic_map`): a value is ``decode[code] * absmax``; a new
  code comes from ``x`` normalised by the block's ``absmax`` (:func:`normalizer`) by the
  decade formula, written as a chain of selects with no table lookup per value, so that
  LLVM vectorises the loop (gathers are not vectorised on every CPU).

Bit casts (float32 <-> int32) are LLVM ``bitcast`` instructions: free and vectorisable.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ..kernels.jit import block_kernel, element
from .dynamic_map import CUTS, NAN_CODE, SATURATED, SMALLEST_NORMAL, DynamicMap
from .vector_ir import call

LANES = 16


@element
def normalizer(scale):
    """How a block's values are normalised before rounding: ``(factor, multiply)``.

    ``x * (1 / absmax)`` (``multiply`` true): one division per block instead of one per
    value (the divider also serves the update's square root and division, and bounds
    these loops); the quotient moves by at most an ulp, which changes a code only for a
    value within an ulp of a midpoint between two codes, where either is as near.
    A block of zeros multiplies by one; a subnormal ``absmax``, whose inverse would
    overflow, divides (``multiply`` false). NaN and inf scales give the code of zero to
    every value either way, as a division by them does.
    """
    if scale >= SMALLEST_NORMAL:
        return np.float32(1.0) / scale, True
    if scale == np.float32(0.0):
        return np.float32(1.0), True
    return scale, False


@element
def normalized(x, factor, multiply):
    """``x`` normalised as :func:`normalizer` says."""
    return x * factor if multiply else x / factor


def rounding(cmap: DynamicMap) -> np.ndarray:
    """A map's rounding constants in the kernels' layout: (4, 16) float32.

    Rows: ``cuts`` (padded with inf), ``starts``, ``inv_widths``, ``tops`` (padded with
    the last decade's).
    """
    out = np.empty((4, LANES), np.float32)
    out[0] = np.inf
    out[0, :CUTS] = cmap.cuts
    for row, values in ((1, cmap.starts), (2, cmap.inv_widths), (3, cmap.tops)):
        out[row] = values[-1]
        out[row, : len(values)] = values
    return out


@intrinsic
def float_bits(typingctx, x):
    """The IEEE-754 bits of float32 ``x`` as an int32."""
    if x != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int32))

    return types.int32(x), codegen


@intrinsic
def bits_float(typingctx, bits):
    """The float32 whose IEEE-754 bits are the low 32 bits of integer ``bits``."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        low = builder.trunc(args[0], context.get_value_type(types.int32)) if bits.bitwidth > 32 else args[0]
        return builder.bitcast(low, context.get_value_type(types.float32))

    return types.float32(bits), codegen


@element
def bf16_load(stored):
    """A bfloat16 (its 16 bits as uint16) as float32: exact."""
    return bits_float(np.int32(stored) << 16)


def _wrapping(operation: str, doc: str):
    """An intrinsic for ``a <operation> b mod 2**32`` on the low 32 bits of two integers, in 32-bit
    lanes: numba's own arithmetic would widen it to 64 bits and halve the width of the loop's vectors."""

    @intrinsic
    def op32(typingctx, a, b):
        if not (isinstance(a, types.Integer) and isinstance(b, types.Integer)):
            return None

        def codegen(context, builder, signature, args):
            i32 = context.get_value_type(types.uint32)

            def narrow(value, kind):
                if kind.bitwidth > 32:
                    return builder.trunc(value, i32)
                return builder.zext(value, i32) if kind.bitwidth < 32 else value

            left, right = (narrow(v, k) for v, k in zip(args, signature.args, strict=True))
            return getattr(builder, operation)(left, right)

        return types.uint32(a, b), codegen

    op32.__doc__ = doc
    return op32


mul32 = _wrapping("mul", "``a * b mod 2**32``, in 32-bit lanes.")
add32 = _wrapping("add", "``a + b mod 2**32``, in 32-bit lanes.")


@element
def bf16_store_stochastic(x, index, seed):
    """float32 ``x`` rounded to bfloat16 stochastically (:func:`.codecs.to_bfloat16`), as its 16 bits.

    ``index`` is the element's index in its tensor, ``seed`` :func:`.codecs.rounding_seed`.
    """
    bits = np.uint32(float_bits(x))
    noise = mul32(add32(index, seed), np.uint32(0x9E3779B1)) >> np.uint32(16)
    # no case for infinities: their low 16 bits are zero, so the noise (< 2**16) leaves them be
    out = (bits + noise) >> np.uint32(16)
    return np.uint16(0x7FC0) if x != x else np.uint16(out)


@element
def magnitude_bits(x):
    """The bits of ``|x|`` (float32) as int32: they order like the magnitudes (NaN above inf)."""
    return float_bits(x) & np.int32(0x7FFFFFFF)


@intrinsic
def prefetch(typingctx, array, index):
    """Ask the CPU to bring in the cache line of ``array[index]`` (a hint: it never faults)."""
    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        address = builder.bitcast(builder.gep(data, [args[1]]), ir.PointerType(ir.IntType(8)))
        i32 = ir.IntType(32)
        # read, keep in all levels, data
        call(builder, "llvm.prefetch.p0", ir.VoidType(), [address, i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen


INFINITY_BITS = 0x7F800000  # the bits of inf: those of |x| reach it exactly for the non-finite x


def _largest_bits(finite_only: bool):
    """The codegen of ``max(acc, bits of |x|)`` in int32, over finite ``x`` only or over every ``x``."""

    def codegen(context, builder, signature, args):
        i32 = context.get_value_type(types.int32)
        bits = builder.and_(builder.bitcast(args[1], i32), i32(0x7FFFFFFF))
        if finite_only:
            bits = builder.select(builder.icmp_signed("<", bits, i32(INFINITY_BITS)), bits, i32(0))
        return builder.select(builder.icmp_signed(">", bits, args[0]), bits, args[0])

    return codegen


@intrinsic
def magnitude_max(typingctx, acc, x):
    """``max(acc, bits of |x|)`` in int32 over *finite* ``x`` (NaN and infinities are left out: a
    block's scale is its largest finite magnitude, so that one of them spoils no block-mate).

    In int32 (numba's own integer arithmetic would widen it to int64 and halve the vector width
    of the loops that take block maxima); the bits of ``|x|`` order like the magnitudes, and are
    at least :data:`INFINITY_BITS` exactly for the non-finite values."""
    if acc != types.int32 or x != types.float32:
        return None
    return types.int32(acc, x), _largest_bits(finite_only=True)


@intrinsic
def any_magnitude_max(typingctx, acc, x):
    """:func:`magnitude_max` over every ``x``: at least :data:`INFINITY_BITS` if one is not finite
    (two instructions a vector fewer; a block's loop that meets none needs no other pass)."""
    if acc != types.int32 or x != types.float32:
        return None
    return types.int32(acc, x), _largest_bits(finite_only=False)


@block_kernel
def finite_magnitude_max(values):
    """The bits of the largest finite ``|x|`` of ``values`` (0 if none): a block's scale, by a second
    pass where :func:`any_magnitude_max` met a value that is not finite."""
    out = np.int32(0)
    for i in range(values.size):
        out = magnitude_max(out, values[i])
    return out


@element
def nearest_code(y, cuts, starts, inv_widths, tops):
    """The magnitude code nearest to ``y`` in [0, 1] (float32 result): the formula of :mod:`.dynamic_map`.

    ``cuts`` and the others are tuples (loop-invariant registers); the chain of selects
    picks the constants of the last decade whose cut ``y`` reaches.
    """
    start, inv_width, top = starts[0], inv_widths[0], tops[0]
    if y >= cuts[0]:
        start, inv_width, top = starts[1], inv_widths[1], tops[1]
    if y >= cuts[1]:
        start, inv_width, top = starts[2], inv_widths[2], tops[2]
    if y >= cuts[2]:
        start, inv_width, top = starts[3], inv_widths[3], tops[3]
    if y >= cuts[3]:
        start, inv_width, top = starts[4], inv_widths[4], tops[4]
    if y >= cuts[4]:
        start, inv_width, top = starts[5], inv_widths[5], tops[5]
    if y >= cuts[5]:
        start, inv_width, top = starts[6], inv_widths[6], tops[6]
    if y >= cuts[6]:
        start, inv_width, top = starts[7], inv_widths[7], tops[7]
    if y >= cuts[7]:
        start, inv_width, top = starts[8], inv_widths[8], tops[8]
    z = np.floor((y - start) * inv_width)
    z = z if z > np.float32(0) else np.float32(0)  # also NaN -> 0
    z = z if z < top else top
    return top + z


@block_kernel
def encode_block(values, scale_bits, codes, signed, cmap):
    """Write ``codes`` of ``values`` relative to the float whose bits are ``scale_bits``; return that float.

    ``cmap`` is :func:`rounding` of a :class:`.dynamic_map.DynamicMap`. The values are
    normalised by the scale as :func:`normalizer` says (an all-zero block: by one, every
    value gets the code of zero).
    """
    c, s, w, t = cmap[0], cmap[1], cmap[2], cmap[3]
    cuts = (c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7])
    starts = (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8])
    inv_widths = (w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8])
    tops = (t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8])
    scale = bits_float(scale_bits)
    factor, multiply = normalizer(scale)
    if signed:
        for i in range(codes.size):
            bits = float_bits(normalized(values[i], factor, multiply))
            y = bits_float(bits & np.int32(0x7FFFFFFF))
            code = np.int32(nearest_code(y, cuts, starts, inv_widths, tops))
            sign = (bits >> np.int32(24)) & np.int32(0x80) if code != np.int32(0) else np.int32(0)
            # NaN and infinities: the NaN code (``y < inf`` is false for both)
            codes[i] = np.uint8(code | sign if y < np.float32(np.inf) else np.int32(NAN_CODE))
    else:
        for i in range(codes.size):
            y = bits_float(magnitude_bits(normalized(values[i], factor, multiply)))
            code = np.int32(nearest_code(y, cuts, starts, inv_widths, tops))
            # a positive value never gets the code of zero; NaN saturates (infinity already does)
            code = code if code != np.int32(0) or not values[i] > np.float32(0) else np.int32(1)
            codes[i] = np.uint8(code if y == y else np.int32(SATURATED))
    return scale


@block_kernel
def decode_block(codes, table, scale, out):
    """``out[i] = table[codes[i]] * scale``: the stored values of one block."""
    for i in range(codes.size):
        out[i] = table[codes[i]] * scale
