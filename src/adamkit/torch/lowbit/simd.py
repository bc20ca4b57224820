"""The 8-bit encoder written with AVX-512 vector instructions, where the CPU has them.

:func:`.jit.encode_block` rounds with a chain of eight comparisons and selects that LLVM
vectorises on any CPU. With AVX-512, a decade's constants can instead be *looked up* in
registers: ``vpermps`` indexes a 16-float table by a vector of indices, one instruction
for 16 values. LLVM does not turn the scalar code into that, so this module writes the
16-value step directly in LLVM IR (a numba ``@intrinsic``):

1. ``y = |x|`` normalised (:func:`.jit.normalizer`) and its float32 exponent ``e`` (a shift);
2. ``d0``: the decade at the start of ``y``'s binary octave, from a 32-entry table indexed
   by ``e`` (``vpermi2ps``); the cuts are more than an octave apart (the map's decades
   are factors of ten), so one comparison with ``cuts[d0]`` (``vpermps``) gives the
   decade ``d``;
3. ``start``, ``inv_width``, ``top`` of decade ``d`` (three ``vpermps``), then the same
   ``floor``, clamps and sum as the portable formula, and the sign bit.

Every arithmetic step is the portable one's (same IEEE float32 operations, same order),
so the codes are the same bit for bit (tested); a NaN gets the code of zero, as there.
About 1.7x faster than the portable encoder on AMD Zen 4. ``AVAILABLE`` says whether
it is used: the host CPU has AVX-512F and numba compiles for the host.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ..kernels.jit import block_kernel
from .dynamic_map import NAN_CODE, SATURATED
from .jit import LANES, OCTAVE_BASE, bits_float, encode_block, normalizer
from .vector_ir import call, const, host_has, splat

AVAILABLE = host_has("avx512f")

_F32, _I32, _I8 = ir.FloatType(), ir.IntType(32), ir.IntType(8)
_VF, _VI, _VB = ir.VectorType(_F32, LANES), ir.VectorType(_I32, LANES), ir.VectorType(_I8, LANES)


def _lookup(builder: ir.IRBuilder, table: ir.Value, index: ir.Value) -> ir.Value:
    """``table[index]`` lane by lane, a 16-float table in a register (``vpermps``)."""
    return call(builder, "llvm.x86.avx512.permvar.sf.512", _VF, [table, index])


@intrinsic
def encode16(typingctx, values, offset, factor, consts, codes, sign_mask):
    """Codes of ``values[offset:offset+16] * factor`` (the inverse of the block's scale,
    :func:`.jit.normalizer`) into ``codes[offset:offset+16]``.

    ``consts`` is :func:`.jit.rounding` of the map; ``sign_mask`` is 0x80 for the signed map, 0 else.
    """
    signature = types.void(values, offset, factor, consts, codes, sign_mask)

    def codegen(context, builder, sig, args):
        values_v, offset_v, factor_v, consts_v, codes_v, mask_v = args
        values_t, _, _, consts_t, codes_t, mask_t = sig.args

        def address(array_type, array, element):
            data = context.make_array(array_type)(context, builder, array).data
            return builder.bitcast(
                builder.gep(data, [offset_v]), ir.PointerType(ir.VectorType(element, LANES))
            )

        table = context.make_array(consts_t)(context, builder, consts_v).data

        def row(k):
            pointer = builder.gep(table, [ir.Constant(_I32, LANES * k)])
            return builder.load(builder.bitcast(pointer, ir.PointerType(_VF)), align=4)

        x = builder.load(address(values_t, values_v, _F32), align=4)
        q = builder.fmul(x, splat(builder, factor_v, _VF))
        bits = builder.bitcast(q, _VI)
        magnitude = builder.and_(bits, const(0x7FFFFFFF, _VI))
        y = builder.bitcast(magnitude, _VF)
        # the decade: the octave's first decade, plus one if y reaches the next cut
        octave = builder.sub(builder.lshr(magnitude, const(23, _VI)), const(OCTAVE_BASE, _VI))
        octave = builder.select(builder.icmp_signed("<", octave, const(0, _VI)), const(0, _VI), octave)
        first = call(builder, "llvm.x86.avx512.vpermi2var.ps.512", _VF, [row(4), octave, row(5)])
        first = builder.fptosi(first, _VI)
        reaches = builder.fcmp_ordered(">=", y, _lookup(builder, row(0), first))
        decade = builder.add(first, builder.zext(reaches, _VI))
        start, inv_width, top = (_lookup(builder, row(k), decade) for k in (1, 2, 3))
        z = call(builder, "llvm.floor.v16f32", _VF, [builder.fmul(builder.fsub(y, start), inv_width)])
        zero = const(0.0, _VF)
        z = builder.select(builder.fcmp_ordered(">", z, zero), z, zero)
        z = builder.select(builder.fcmp_ordered("<", z, top), z, top)
        code = builder.fptosi(builder.fadd(top, z), _VI)
        code = builder.select(builder.fcmp_unordered("uno", y, y), const(0, _VI), code)  # NaN
        mask = splat(builder, context.cast(builder, mask_v, mask_t, types.int32), _VI)
        sign = builder.and_(builder.ashr(bits, const(24, _VI)), mask)
        zero_i = const(0, _VI)
        code = builder.or_(code, builder.select(builder.icmp_signed("==", code, zero_i), zero_i, sign))
        # :mod:`.dynamic_map`'s rules (``mask`` is 0 for the unsigned map): a positive value's least
        # code is 1 there; a value that is not finite gets the NaN code, or the unsigned map's largest
        signed = builder.icmp_signed("!=", mask, zero_i)
        least = builder.select(signed, zero_i, const(1, _VI))
        floor = builder.select(builder.fcmp_ordered(">", x, zero), least, zero_i)
        code = builder.select(builder.icmp_signed("<", code, floor), floor, code)
        not_finite = builder.fcmp_unordered(">=", y, const(float("inf"), _VF))
        special = builder.select(signed, const(NAN_CODE, _VI), const(SATURATED, _VI))
        code = builder.trunc(builder.select(not_finite, special, code), _VB)
        builder.store(code, address(codes_t, codes_v, _I8), align=1)
        return context.get_dummy_value()

    return signature, codegen


@block_kernel
def encode_block_simd(values, scale_bits, codes, signed, consts):
    """:func:`.jit.encode_block` with 16 values per step (``consts``: :func:`.jit.rounding`)."""
    scale = bits_float(scale_bits)
    factor, multiply = normalizer(scale)
    if not multiply:  # a subnormal scale, whose values divide: rare, the portable loop
        return encode_block(values, scale_bits, codes, signed, consts)
    mask = np.int32(0x80) if signed else np.int32(0)
    whole = codes.size - codes.size % LANES
    for i in range(0, whole, LANES):
        encode16(values, i, factor, consts, codes, mask)
    if whole < codes.size:  # the last values of a tensor: the portable loop
        encode_block(values[whole:], scale_bits, codes[whole:], signed, consts)
    return scale
