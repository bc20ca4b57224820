"""The 8-bit codec written with AVX2 vector instructions (8 values per step), where the CPU has them.

The portable codec (:mod:`.jit`) decodes with a table lookup per value, which LLVM does
not vectorise, and finds a value's decade with a chain of eight comparisons and 24
selects. With AVX2, ``vpermps`` looks a constant up in an 8-float register by a vector
of indices, one instruction for 8 values, so both directions become short vector loops
(written here in LLVM IR, as numba intrinsics, each over a whole block with its
constants held in registers):

* **decode**: ``d = floor(log2(c + 1))`` from the exponent of ``float32(c + 1)``, the
  constants of :mod:`.dynamic_map`'s decoding formula looked up by ``d - 1``, then the
  formula, the sign bit and the scale (the code widened to 32 bits once, by the load:
  :func:`.vector_ir.opaque`);
* **encode**: ``y = |x * (1 / absmax)|`` (:func:`.jit.normalizer`), the decade ``d`` as
  the number of cuts ``y`` reaches, the decade's constants looked up by ``d`` itself, then
  the portable rounding formula, its floor and clamp done as a truncation and an integer
  clamp (the same integers); 32 codes a step, packed to bytes by two saturating packs.

Every arithmetic step that makes a value is the portable one's (the same IEEE float32
operations in the same order), so the codes and the decoded values are the same bit for
bit (tested). Zero is the decade ``d = 0``, a select instead of a table entry, so that 8
entries cover the unsigned map's 7 decades and one. Per 8 values, llvm-mca's estimate for
Zen 3 is about 6 cycles to decode and 10 to encode (``make bench`` times the whole step).
``AVAILABLE`` says whether it is used: the host CPU has AVX2 and numba compiles for the host.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ..kernels.jit import element
from .dynamic_map import CUTS, NAN_CODE, SATURATED, DynamicMap
from .jit import bits_float, decode_block, encode_block, normalizer
from .vector_ir import call, const, host_has, opaque, splat

LANES = 8
_F32, _I32, _I8 = ir.FloatType(), ir.IntType(32), ir.IntType(8)
_VF, _VI, _VB = ir.VectorType(_F32, LANES), ir.VectorType(_I32, LANES), ir.VectorType(_I8, LANES)
_VW, _VQ = ir.VectorType(ir.IntType(16), 2 * LANES), ir.VectorType(_I8, 4 * LANES)  # 16 words, 32 bytes
#: after two packs the 32-bit groups of 4 codes are a0 b0 c0 d0 a1 b1 c1 d1: back to a0 a1 b0 b1 ...
_PACK_ORDER = ir.Constant(ir.VectorType(_I32, LANES), [0, 4, 1, 5, 2, 6, 3, 7])
# rows of :func:`tables`
CUT_ROW, START_ROW, INV_WIDTH_ROW, TOP_ROW, OFFSET_ROW, WIDTH_ROW, LOW_ROW, OCTAVE_ROW = range(8)
SLOPE = 80  # of the octave formula: about 256 * log10(2)


AVAILABLE = host_has("avx2")


def cuts_below_octaves(cmap: DynamicMap) -> np.ndarray:
    """For each float32 exponent field ``e`` (0..255): how many cuts are ``<= 2**(e - 127)``, at most 7."""
    octaves = np.float64(2.0) ** (np.arange(256) - 127.0)
    return np.minimum((cmap.cuts[None, :].astype(np.float64) <= octaves[:, None]).sum(axis=1), CUTS - 1)


def octave_formula(cmap: DynamicMap) -> int:
    """The intercept ``c`` with ``clamp((e * SLOPE + c) >> 8, 0, 7) == cuts_below_octaves(cmap)[e]``.

    The cuts sit near powers of ten, so the count grows like ``e * log10(2)``; an integer
    multiply and shift replaces a 32-entry table (AVX2 looks up 8 entries at a time).
    """
    exponents = np.arange(256)
    target = cuts_below_octaves(cmap)
    for intercept in range(-SLOPE * 128, 0):
        if np.array_equal(np.clip((exponents * SLOPE + intercept) >> 8, 0, CUTS - 1), target):
            return intercept
    raise ValueError("no octave formula for this map: its cuts are not spaced like powers of ten")


def tables(cmap: DynamicMap) -> np.ndarray:
    """A map's constants for these kernels: (8, 8) float32, one row per constant.

    Rows: the cuts (``d`` is the number of them a value reaches); the rounding's
    ``starts``, ``inv_widths`` and ``tops`` (the last as int32 bits) in lane ``d mod 8``
    for ``d = 1 .. 8`` (``d = 0``, zero, is a select); the decoding's ``offsets``, ``widths``,
    ``lows`` in lane ``d - 1`` (:class:`.dynamic_map.DynamicMap`); last, the octave
    formula's slope and intercept (lanes 0 and 1). Each direction's lanes are the ones its
    index reaches with the fewest instructions.
    """

    def rounding_lanes(values: np.ndarray) -> np.ndarray:
        return np.roll(values[1 : LANES + 1], 1)  # d = 8 to lane 0

    rows = [
        cmap.cuts[:CUTS],
        rounding_lanes(cmap.starts),
        rounding_lanes(cmap.inv_widths),
        rounding_lanes(cmap.tops).astype(np.int32).view(np.float32),
    ]
    rows += [values[1 : LANES + 1] for values in (cmap.offsets, cmap.widths, cmap.lows)]
    rows.append(np.array([SLOPE, octave_formula(cmap)] + [0] * (LANES - 2), np.float32))
    return np.array(rows, np.float32)


def _lookup(builder: ir.IRBuilder, table: ir.Value, index: ir.Value) -> ir.Value:
    """``table[index mod 8]`` lane by lane, an 8-float table in a register (``vpermps`` reads the
    low 3 bits of each index)."""
    return call(builder, "llvm.x86.avx2.permps", _VF, [table, index])


class _Block:
    """What the codegen of a block intrinsic needs: typed access to its array arguments."""

    def __init__(self, context, builder: ir.IRBuilder, sig, args) -> None:
        self.context, self.builder, self.sig, self.args = context, builder, sig, args

    def data(self, k: int) -> ir.Value:
        return self.context.make_array(self.sig.args[k])(self.context, self.builder, self.args[k]).data

    def vector_at(self, k: int, offset: ir.Value, element: ir.Type) -> ir.Value:
        """A pointer to ``LANES`` elements of array argument ``k`` from ``offset``."""
        pointer = self.builder.gep(self.data(k), [offset])
        return self.builder.bitcast(pointer, ir.PointerType(ir.VectorType(element, LANES)))

    def rows(self, k: int) -> list[ir.Value]:
        """The rows of the (8, 8) table in argument ``k``, loaded once (registers for the loop)."""
        table = self.data(k)
        return [
            self.builder.load(
                self.builder.bitcast(
                    self.builder.gep(table, [ir.Constant(_I32, LANES * r)]), ir.PointerType(_VF)
                ),
                align=4,
            )
            for r in range(OCTAVE_ROW + 1)
        ]

    def whole_count(self, count: int) -> ir.Value:
        """Argument ``count`` rounded down to whole vectors."""
        n = self.context.cast(self.builder, self.args[count], self.sig.args[count], types.intp)
        return self.builder.sub(n, self.builder.srem(n, ir.Constant(n.type, LANES)))

    def whole_vectors(self, count: int):
        """A loop over the offsets ``0, 8, ...`` below argument ``count`` rounded down to whole vectors."""
        whole = self.whole_count(count)
        return cgutils.for_range_slice(
            self.builder, ir.Constant(whole.type, 0), whole, ir.Constant(whole.type, LANES)
        )


def _magnitude_mask(builder: ir.IRBuilder, signed: ir.Value) -> ir.Value:
    """0x7F (bit 7 is the sign) for the signed map, 0xFF for the unsigned one, in every lane."""
    return builder.select(signed, const(0x7F, _VI), const(0xFF, _VI))


@intrinsic
def decode_vectors(typingctx, codes, consts, scale, out, signed, count):
    """``out[i] = decode[codes[i]] * scale`` for the whole vectors of ``count`` values."""
    signature = types.void(codes, consts, scale, out, signed, count)

    def codegen(context, builder, sig, args):
        block = _Block(context, builder, sig, args)
        rows = block.rows(1)
        scale_v = splat(builder, args[2], _VF)
        magnitude = _magnitude_mask(builder, args[4])
        # the signed map's NaN code; 256 (no code) for the unsigned map
        nan_code = builder.select(args[4], const(NAN_CODE, _VI), const(256, _VI))
        one, zero = const(1, _VI), const(0, _VI)
        with block.whole_vectors(5) as (offset, _):
            raw = opaque(builder, builder.zext(builder.load(block.vector_at(0, offset, _I8), align=1), _VI))
            c = builder.and_(raw, magnitude)
            exponent = builder.lshr(
                builder.bitcast(builder.sitofp(builder.add(c, one), _VF), _VI), const(23, _VI)
            )
            # d = floor(log2(c + 1)) = exponent - 127; the lookup reads the index's low 3 bits,
            # which for the exponent itself are d - 1 mod 8: lane d - 1 (d = 0, zero, is selected below)
            offset_d, width, low = (
                _lookup(builder, rows[r], exponent) for r in (OFFSET_ROW, WIDTH_ROW, LOW_ROW)
            )
            value = builder.fadd(builder.fmul(builder.fsub(builder.sitofp(c, _VF), offset_d), width), low)
            value = builder.select(builder.icmp_signed("==", c, zero), const(0.0, _VF), value)
            sign = builder.shl(builder.and_(raw, builder.xor(magnitude, const(-1, _VI))), const(24, _VI))
            value = builder.bitcast(builder.or_(builder.bitcast(value, _VI), sign), _VF)
            value = builder.select(builder.icmp_signed("==", raw, nan_code), const(float("nan"), _VF), value)
            builder.store(builder.fmul(value, scale_v), block.vector_at(3, offset, _F32), align=4)
        return context.get_dummy_value()

    return signature, codegen


@intrinsic
def encode_vectors(typingctx, values, factor, consts, codes, signed, count):
    """``codes[i]``: the code nearest to ``values[i] * factor`` (``factor`` the inverse of the block's
    scale, :func:`.jit.normalizer`), for the whole vectors of ``count``."""
    signature = types.void(values, factor, consts, codes, signed, count)

    def codegen(context, builder, sig, args):
        block = _Block(context, builder, sig, args)
        rows = block.rows(2)
        octave = builder.fptosi(rows[OCTAVE_ROW], _VI)
        slope, intercept = (
            splat(builder, builder.extract_element(octave, ir.Constant(_I32, k)), _VI) for k in (0, 1)
        )
        factor = splat(builder, args[1], _VF)
        sign_mask = builder.select(args[4], const(0x80, _VI), const(0, _VI))
        zero = const(0, _VI)
        # :mod:`.dynamic_map`'s rules: the unsigned map's least code for a positive value (1), and
        # the code of a value that is not finite (NaN code, or the unsigned map's largest)
        least = builder.select(args[4], zero, const(1, _VI))
        not_finite_code = builder.select(args[4], const(NAN_CODE, _VI), const(SATURATED, _VI))
        infinity = const(float("inf"), _VF)

        # below the first cut, and NaN: the code of zero (one comparison: "not >=")
        first_cut = splat(builder, builder.extract_element(rows[CUT_ROW], ir.Constant(_I32, 0)), _VF)

        def codes_at(offset: ir.Value) -> ir.Value:
            x_raw = builder.load(block.vector_at(0, offset, _F32), align=4)
            q = builder.fmul(x_raw, factor)
            bits = builder.bitcast(q, _VI)
            y = builder.bitcast(builder.and_(bits, const(0x7FFFFFFF, _VI)), _VF)
            # the decade: the number of cuts below y's octave (:func:`octave_formula`), plus one
            # if y reaches the next cut (cuts are more than an octave apart)
            exponent = builder.lshr(builder.bitcast(y, _VI), const(23, _VI))
            first = builder.ashr(builder.add(builder.mul(exponent, slope), intercept), const(8, _VI))
            first = builder.select(builder.icmp_signed("<", first, zero), zero, first)
            first = builder.select(
                builder.icmp_signed(">", first, const(CUTS - 1, _VI)), const(CUTS - 1, _VI), first
            )
            reaches = builder.fcmp_ordered(">=", y, _lookup(builder, rows[CUT_ROW], first))
            decade = builder.sub(first, builder.sext(reaches, _VI))  # its low 3 bits: the lane
            start, inv_width, top = (
                _lookup(builder, rows[r], decade) for r in (START_ROW, INV_WIDTH_ROW, TOP_ROW)
            )
            top = builder.bitcast(top, _VI)
            # the bin: floor, then clamped to [0, top], is the truncation clamped (the bounds are
            # integers, and a truncated (-1, 0) is 0 as its clamped floor). x never exceeds its
            # decade's bin count (y lies below the next cut; one's decade has inv_width 0), so the
            # truncation cannot overflow; cvttps2dq turns NaN into INT_MIN, which the clamp makes
            # 0, as the portable formula does
            x = builder.fmul(builder.fsub(y, start), inv_width)
            z = call(builder, "llvm.x86.avx.cvtt.ps2dq.256", _VI, [x])
            z = builder.select(builder.icmp_signed(">", z, zero), z, zero)
            z = builder.select(builder.icmp_signed("<", z, top), z, top)
            nothing = builder.fcmp_unordered("<", y, first_cut)
            code = builder.select(nothing, zero, builder.add(top, z))
            sign = builder.and_(builder.ashr(bits, const(24, _VI)), sign_mask)
            code = builder.or_(code, builder.select(builder.icmp_signed("==", code, zero), zero, sign))
            floor = builder.select(builder.fcmp_ordered(">", x_raw, const(0.0, _VF)), least, zero)
            code = builder.select(builder.icmp_signed("<", code, floor), floor, code)
            return builder.select(builder.fcmp_unordered(">=", y, infinity), not_finite_code, code)

        # 32 values a step: four vectors of codes (0..255 in 32-bit lanes) packed to bytes by two
        # saturating packs, which interleave 4-value groups, and one permutation back into order
        n = context.cast(builder, args[5], sig.args[5], types.intp)
        intp = n.type
        wide = builder.sub(n, builder.srem(n, ir.Constant(intp, 4 * LANES)))
        with cgutils.for_range_slice(builder, ir.Constant(intp, 0), wide, ir.Constant(intp, 4 * LANES)) as (
            offset,
            _,
        ):
            a, b, c, d = (codes_at(builder.add(offset, ir.Constant(intp, LANES * k))) for k in range(4))
            words = [call(builder, "llvm.x86.avx2.packusdw", _VW, pair) for pair in ((a, b), (c, d))]
            packed = builder.bitcast(call(builder, "llvm.x86.avx2.packuswb", _VQ, words), _VI)
            ordered = call(builder, "llvm.x86.avx2.permd", _VI, [packed, _PACK_ORDER])
            target = builder.bitcast(block.vector_at(3, offset, _I8), ir.PointerType(_VI))
            builder.store(ordered, target, align=1)
        with cgutils.for_range_slice(builder, wide, block.whole_count(5), ir.Constant(intp, LANES)) as (
            offset,
            _,
        ):
            builder.store(builder.trunc(codes_at(offset), _VB), block.vector_at(3, offset, _I8), align=1)
        return context.get_dummy_value()

    return signature, codegen


@element
def decode_block_avx2(codes, consts, scale, out, signed, table):
    """:func:`.jit.decode_block`, 8 values a step (``consts``: :func:`tables`; ``table``: the decode)."""
    decode_vectors(codes, consts, scale, out, signed, codes.size)
    whole = codes.size - codes.size % LANES
    if whole < codes.size:  # the last values of a tensor: the portable loop
        decode_block(codes[whole:], table, scale, out[whole:])


@element
def encode_block_avx2(values, scale_bits, codes, signed, consts, portable):
    """:func:`.jit.encode_block` 8 values per step; ``consts``: :func:`tables`, ``portable``: ``rounding``."""
    scale = bits_float(scale_bits)
    factor, multiply = normalizer(scale)
    if not multiply:  # a subnormal scale, whose values divide: rare, the portable loop
        return encode_block(values, scale_bits, codes, signed, portable)
    encode_vectors(values, factor, consts, codes, signed, codes.size)
    whole = codes.size - codes.size % LANES
    if whole < codes.size:
        encode_block(values[whole:], scale_bits, codes[whole:], signed, portable)
    return scale
