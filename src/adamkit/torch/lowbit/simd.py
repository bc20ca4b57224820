"""The 8-bit encoder written with AVX-512 vector instructions, where the CPU has them.

:func:`.jit.encode_block` rounds with a chain of eight comparisons and selects that LLVM
vectorises on any CPU. With AVX-512, a decade's constants can instead be *looked up* in
registers: ``vpermps`` indexes a 16-float table by a vector of indices, one instruction
for 16 values. LLVM does not turn the scalar code into that, so this module writes the
16-value step directly in LLVM IR (a numba ``@intrinsic``), one version per map:

1. ``y = |x|`` normalised (:func:`.jit.normalizer`) and its float32 exponent ``e`` (a shift);
2. ``first``: the number of cuts below the start of ``y``'s binary octave, from a 32-entry
   table indexed by ``e`` (``vpermi2ps``); the cuts are more than an octave apart (the
   map's decades are factors of ten), so one comparison with ``cuts[first]`` (``vpermps``)
   gives the decade ``d``;
3. ``start``, ``inv_width``, ``top`` of decade ``d`` (three ``vpermps``), then the portable
   formula: ``floor((y - start) * inv_width)`` clamped to ``[0, top]``, plus ``top``, with
   the floor and the clamp done as a truncation and an integer ``min`` (the same integers:
   the bin of a finite ``y`` is above -1, as ``y`` reaches its decade's cut, and below 2**31;
   a value that is not finite gets its own code below), and the sign bit.

The integer work is written for the map at hand: the signed map adds the sign bit to a
code other than zero; the unsigned map keeps a positive value off code 0. Every float
operation is the portable one's (same IEEE float32 operations, same order), so the codes
are the same bit for bit (tested); a value that is not finite gets the signed map's NaN
code or the unsigned map's largest, as there. About 2x faster than the portable encoder on
AMD Zen 4. ``AVAILABLE`` says whether it is used: the host CPU has AVX-512F and numba
compiles for the host.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ..kernels.jit import element
from .dynamic_map import CUTS, NAN_CODE, SATURATED, DynamicMap
from .jit import bits_float, encode_block, normalizer
from .vector_ir import call, const, host_has, splat

AVAILABLE = host_has("avx512f")

LANES = 16
OCTAVE_BASE = 96  # the octave rows cover float32 exponents 96..127: y in [2**-31, 1]
# rows of :func:`tables`
CUT_ROW, START_ROW, INV_WIDTH_ROW, TOP_ROW, OCTAVE_ROWS = 0, 1, 2, 3, 4

_F32, _I32, _I8 = ir.FloatType(), ir.IntType(32), ir.IntType(8)
_VF, _VI, _VB = ir.VectorType(_F32, LANES), ir.VectorType(_I32, LANES), ir.VectorType(_I8, LANES)
_VK = ir.VectorType(ir.IntType(1), LANES)


def tables(cmap: DynamicMap) -> np.ndarray:
    """A map's constants for this encoder: (6, 16) float32, one 16-lane row per constant.

    Rows: the cuts (padded with inf); the rounding's ``starts``, ``inv_widths`` and ``tops``
    (the last as int32 bits) by decade ``d + 1`` as in :class:`.dynamic_map.DynamicMap`; then,
    as int32 bits in two rows of 16, the number of cuts ``<= 2**(e - 127)`` for the float32
    exponents ``e = 96 .. 127`` (smaller ``y`` are below every cut).
    """
    out = np.empty((6, LANES), np.float32)
    out[CUT_ROW] = np.inf
    out[CUT_ROW, :CUTS] = cmap.cuts
    for row, values in ((START_ROW, cmap.starts), (INV_WIDTH_ROW, cmap.inv_widths)):
        out[row] = values[-1]
        out[row, : len(values)] = values
    tops = np.full(LANES, cmap.tops[-1], np.int32)
    tops[: len(cmap.tops)] = cmap.tops
    out[TOP_ROW] = tops.view(np.float32)
    octaves = np.float32(2.0) ** (np.arange(OCTAVE_BASE, 128) - 127).astype(np.float64)
    counts = (cmap.cuts[None, :] <= octaves[:, None]).sum(axis=1).astype(np.int32)
    out[OCTAVE_ROWS:] = counts.view(np.float32).reshape(2, LANES)
    return out


def _lookup(builder: ir.IRBuilder, table: ir.Value, index: ir.Value) -> ir.Value:
    """``table[index]`` lane by lane, a 16-float table in a register (``vpermps``)."""
    return call(builder, "llvm.x86.avx512.permvar.sf.512", _VF, [table, index])


def _encoder(signed: bool, finite: bool):
    """The 16-value step for the signed or the unsigned map (the map's rules compiled in). ``finite``:
    for values that are all finite and at most the scale in magnitude (a block whose scale is its
    largest value and none of whose values is NaN or infinite, as a step finds out): without the
    octave's upper clamp and the codes of non-finite values, three instructions of about 25."""

    @intrinsic
    def encode16(typingctx, values, offset, factor, consts, codes):
        """Codes of ``values[offset:offset+16] * factor`` (the inverse of the block's scale,
        :func:`.jit.normalizer`) into ``codes[offset:offset+16]``; ``consts``: :func:`tables`."""
        signature = types.void(values, offset, factor, consts, codes)

        def codegen(context, builder, sig, args):
            values_v, offset_v, factor_v, consts_v, codes_v = args
            values_t, _, _, consts_t, codes_t = sig.args

            def address(array_type, array, element):
                data = context.make_array(array_type)(context, builder, array).data
                return builder.bitcast(
                    builder.gep(data, [offset_v]), ir.PointerType(ir.VectorType(element, LANES))
                )

            table = context.make_array(consts_t)(context, builder, consts_v).data

            def row(k):
                pointer = builder.gep(table, [ir.Constant(_I32, LANES * k)])
                return builder.load(builder.bitcast(pointer, ir.PointerType(_VF)), align=4)

            zero = const(0, _VI)
            x = builder.load(address(values_t, values_v, _F32), align=4)
            bits = builder.bitcast(builder.fmul(x, splat(builder, factor_v, _VF)), _VI)
            magnitude = builder.and_(bits, const(0x7FFFFFFF, _VI))
            y = builder.bitcast(magnitude, _VF)
            # the decade: the cuts below the octave (exponents under 96 read entry 0: none; over 127,
            # only a value that is not finite, entry 31), plus one if y reaches the next cut;
            # vpermi2ps reads the index's low 5 bits: e - 96
            octave = builder.lshr(magnitude, const(23, _VI))
            low, high = const(OCTAVE_BASE, _VI), const(127, _VI)
            octave = builder.select(builder.icmp_unsigned("<", octave, low), low, octave)
            if not finite:  # (a finite y at most the scale is at most 1 + an ulp: exponent 127)
                octave = builder.select(builder.icmp_unsigned(">", octave, high), high, octave)
            first = call(
                builder,
                "llvm.x86.avx512.vpermi2var.ps.512",
                _VF,
                [row(OCTAVE_ROWS), octave, row(OCTAVE_ROWS + 1)],
            )
            first = builder.bitcast(first, _VI)
            reaches = builder.fcmp_ordered(">=", y, _lookup(builder, row(CUT_ROW), first))
            decade = builder.add(first, builder.zext(reaches, _VI))
            start, inv_width = (_lookup(builder, row(k), decade) for k in (START_ROW, INV_WIDTH_ROW))
            top = builder.bitcast(_lookup(builder, row(TOP_ROW), decade), _VI)
            # the bin, truncated: above -1 for a finite y (no clamp at 0 needed); NaN for a y that
            # is not finite, whose code is set below
            z = call(
                builder,
                "llvm.x86.avx512.mask.cvttps2dq.512",
                _VI,
                [
                    builder.fmul(builder.fsub(y, start), inv_width),
                    zero,
                    ir.Constant(ir.IntType(16), -1),
                    ir.Constant(_I32, 4),
                ],
            )
            z = builder.select(builder.icmp_signed("<", z, top), z, top)
            code = builder.add(top, z)
            if signed:  # the sign bit on a code other than zero's
                negative = builder.and_(
                    builder.icmp_signed("<", bits, zero), builder.icmp_signed("!=", code, zero)
                )
                code = builder.select(negative, builder.or_(code, const(0x80, _VI)), code)
            else:  # a positive value's least code is 1
                positive = builder.fcmp_ordered(">", x, const(0.0, _VF))
                code = builder.select(
                    builder.and_(positive, builder.icmp_signed("==", code, zero)), const(1, _VI), code
                )
            # NaN and infinities: the signed map's NaN code, the unsigned map's largest
            if not finite:
                is_finite = builder.icmp_signed("<", magnitude, const(0x7F800000, _VI))
                code = builder.select(is_finite, code, const(NAN_CODE if signed else SATURATED, _VI))
            builder.store(builder.trunc(code, _VB), address(codes_t, codes_v, _I8), align=1)
            return context.get_dummy_value()

        return signature, codegen

    return encode16


encode16_signed = _encoder(signed=True, finite=False)
encode16_unsigned = _encoder(signed=False, finite=False)
encode16_signed_finite = _encoder(signed=True, finite=True)
encode16_unsigned_finite = _encoder(signed=False, finite=True)


@element
def encode_block_simd(values, scale_bits, codes, signed, consts, portable, finite):
    """:func:`.jit.encode_block` with 16 values per step (``consts``: :func:`tables`; ``portable``:
    :func:`.jit.rounding`, for a subnormal scale and the last values of a tensor). ``finite``: every
    value is finite and at most the scale in magnitude (the caller knows: a step's block maximum),
    which takes the shorter step (:func:`_encoder`); the codes are the same."""
    scale = bits_float(scale_bits)
    factor, multiply = normalizer(scale)
    if not multiply:  # a subnormal scale, whose values divide: rare, the portable loop
        return encode_block(values, scale_bits, codes, signed, portable)
    whole = codes.size - codes.size % LANES
    if signed and finite:
        for i in range(0, whole, LANES):
            encode16_signed_finite(values, i, factor, consts, codes)
    elif signed:
        for i in range(0, whole, LANES):
            encode16_signed(values, i, factor, consts, codes)
    elif finite:
        for i in range(0, whole, LANES):
            encode16_unsigned_finite(values, i, factor, consts, codes)
    else:
        for i in range(0, whole, LANES):
            encode16_unsigned(values, i, factor, consts, codes)
    if whole < codes.size:  # the last values of a tensor: the portable loop
        encode_block(values[whole:], scale_bits, codes[whole:], signed, portable)
    return scale
