r"""The 8-bit dynamic code maps of Dettmers et al., and how a value is rounded to its code.

A code stands for a value in [-1, 1]; a block of values is stored as the codes nearest
to ``x * (1 / absmax)``, where ``absmax`` is the block's largest magnitude (:mod:`.codecs`).

**The maps** (Dettmers, Lewis, Shleifer and Zettlemoyer, "8-bit Optimizers via
Block-wise Quantization", ICLR 2022, section 2: dynamic quantization, after the
"dynamic tree" of Dettmers 2016): a magnitude is a decimal exponent times a linear
fraction. Decade :math:`k` (:math:`k = 0 .. D-1`) spans
:math:`[10^{k-D}, 10^{k-D+1}]` and holds :math:`n_k = 2^{k+1}` codes, the midpoints of
:math:`n_k` equal bins, so large values get many codes and small ones still get some.
Zero and one are added exactly: zero so that the moments of unused entries stay zero,
one so that the block's largest value is stored without error. Magnitude codes run
0 (zero), then decade by decade (decade :math:`k` starts at code :math:`n_k - 1`), then
:math:`2^{D+1} - 1` (one).

* ``UNSIGNED`` (second moments, never negative): :math:`D = 7` decades (1e-7 .. 1),
  2 + 4 + ... + 128 = 254 midpoints plus 0 and 1: 256 codes. The sign bit of the tree
  buys one more fraction bit, as the paper does for unsigned state.
* ``SIGNED`` (first moments): bit 7 is the sign, bits 0-6 a magnitude code of
  :math:`D = 6` decades (1e-6 .. 1): 126 midpoints plus 0 and 1. Symmetric: ``-x`` has
  the code of ``x`` with bit 7 set. (bitsandbytes' signed map keeps one more decade
  below and +1 but not -1; a symmetric map is what makes the rounding below one formula.)

**Zero, tiny values and non-finite values** (why no second moment decodes to zero while it
is positive). Adam's step is ``m / (sqrt(v) + eps)``; if a ``v`` far below its block's
largest value rounded to the code of zero while its ``m`` (another block, another scale)
stayed non-zero, the step would be ``m / eps``, thousands of times the learning rate:
Li, Chen and Zhu, "Memory Efficient Optimizers with 4-bit States" (NeurIPS 2023) call it
the zero-point problem and remove zero from the second moment's map. Here zero keeps
its code for *exact* zeros (the moments of entries never used stay zero, as in 32 bits),
but the unsigned map never rounds a positive value to it: a positive value below the
smallest code's cut gets the smallest code, ``3.25e-7 * absmax``. Rounding ``v`` *up*
can only make the step smaller, so ``m / sqrt(v)`` keeps the bound of the 32-bit rule
(no step beyond ``(1 - beta1) / sqrt(1 - beta2)`` times a geometric factor, about 7.3 lr
for Adam's default betas, see the tests); a first moment rounded to zero makes it
smaller too. (bitsandbytes 0.50.2 does not show the blow-up on CPU by accident: its
binary search never returns the six smallest codes of either map, so every value below
``1.56e-5 * absmax``, zero included, is stored as that.) The same rule holds for every
non-negative state (Adamax's ``exp_inf``, RMSprop's ``square_avg``, Adagrad's ``sum``).

Non-finite values stay where they are: a block's ``absmax`` is its largest *finite*
magnitude, so one NaN or infinity leaves its 255 block-mates' codes as they were. In the
signed map the code of "negative zero", ``0x80``, stands for NaN (and stores NaN and both
infinities: a first moment that is not finite makes its parameter NaN in 32 bits too); a
value rounding to magnitude zero gets code 0 whatever its sign. In the unsigned map,
where every code holds a value, NaN and infinity get the largest code (``absmax``): the
step of that parameter is NaN already (its first moment, or the unrounded new moment
the step uses), and a saturated second moment can only shrink later steps.

**Rounding without a search or a table lookup per value** (so that a kernel's loop
vectorises): let ``y`` be ``|x|`` normalised by ``absmax``. The decade boundaries used for rounding are the
*cuts*, the midpoints between neighbouring decades' outer codes (and between 0 and the
first code, and between the last midpoint and 1). With ``d`` the number of cuts ``<= y``
minus one, and the per-decade constants ``start`` (the decade's lower end), ``inv_width``
(bins per unit) and ``top`` (:math:`n_d - 1`, the decade's first code):

.. code-block:: python

    z = floor((y - start[d]) * inv_width[d])     # the bin of y in its decade
    z = clamp(z, 0, top[d])                      # (written as two comparisons: NaN -> 0)
    code = top[d] + z                            # | 0x80 for a negative x (signed map)

The bins' edges are exactly the midpoints between neighbouring codes, so this is the
nearest code, up to float32 rounding for a value within a few ulps of a midpoint (where
either neighbour is as near). Zero and one are decades of one code (``inv_width`` 0).
Every step is an IEEE float32 operation, so the torch codec and the numba kernels, which
perform the same operations in the same order, produce the same codes bit for bit.

**Decoding by formula** (so that a vector decoder needs no 256-entry table): what a
magnitude code ``c`` stands for is *defined* by float32 arithmetic, with
``d = floor(log2(c + 1))`` (``c + 1`` as a float32, its exponent) and per-``d`` constants
``offset = 2**d - 1.5``, ``width`` and ``low`` (decade ``d - 1``'s bin width and lower end;
``width`` 0 and ``low`` 1 for the code of one):

.. code-block:: python

    value = (float32(c) - offset[d]) * width[d] + low[d]   # 0 for c == 0

``float32(c) - offset[d]`` is the bin number plus one half, exactly. The result is the
bin's midpoint computed in float32 (within an ulp or two of the midpoint computed in
float64); the decode tables hold these very numbers, so a table lookup and the formula
agree bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The signed map's code of NaN (the magnitude code of zero with the sign bit set).
NAN_CODE = 0x80
#: The unsigned map's code for NaN and infinity (the code of one: the block's largest finite value).
SATURATED = 0xFF

#: Rounding tables are padded to this many decades (zero and one included), so that
#: both maps share one kernel: 8 cuts, 9 decade entries.
CUTS = 8


@dataclass(frozen=True)
class DynamicMap:
    """One code map: its values and its rounding constants (all float32).

    Attributes:
      signed: bit 7 of a code is the sign; bits 0-6 index ``magnitudes``.
      magnitudes: what a magnitude code stands for, in [0, 1], increasing.
      decode: code (0..255) -> value in [-1, 1]: what a code stores, times ``absmax``.
      cuts: ``CUTS`` decade boundaries for rounding, increasing (``inf`` as padding).
      starts, inv_widths, tops: per decade ``d + 1`` (``d = -1`` is zero): the lower end,
        bins per unit of value, and the first code (``tops[d + 1] == n_d - 1``).
      offsets, widths, lows: the decoding formula's constants per ``d = floor(log2(c + 1))``
        (the same indexing: ``d = 0`` is zero, ``d = decades + 1`` one; padded to ``CUTS + 1``).
    """

    signed: bool
    magnitudes: np.ndarray
    decode: np.ndarray
    cuts: np.ndarray
    starts: np.ndarray
    inv_widths: np.ndarray
    tops: np.ndarray
    offsets: np.ndarray
    widths: np.ndarray
    lows: np.ndarray


def build(decades: int, signed: bool) -> DynamicMap:
    """The dynamic map of ``decades`` decades (in float64, then rounded to float32)."""
    starts, inv_widths, tops = [0.0], [0.0], [0.0]  # d = -1: the code of zero
    magnitudes = [0.0]
    for k in range(decades):
        bins = 2 ** (k + 1)
        low = 10.0 ** (k - decades)
        width = 9 * low / bins
        starts.append(low)
        inv_widths.append(bins / (9 * low))
        tops.append(bins - 1)
        magnitudes.extend(low + (np.arange(bins) + 0.5) * width)
    magnitudes.append(1.0)
    starts.append(1.0)  # d = decades: the code of one
    inv_widths.append(0.0)
    tops.append(2 ** (decades + 1) - 1)
    mags = np.array(magnitudes)
    # the cuts: between zero and the first midpoint, between decades' outer codes, before one
    outer = [0] + [2 ** (k + 1) - 1 for k in range(1, decades + 1)]
    cuts = [(mags[c - 1] + mags[c]) / 2 for c in [1] + outer[1:]]
    pad = CUTS + 1 - len(starts)

    def padded(values: list[float], fill: float) -> np.ndarray:
        return np.array(values + [fill] * pad, np.float32)

    # the decoding formula's constants, by d = floor(log2(c + 1)) (as starts: d = 0 is zero)
    offsets = padded([2.0**d - 1.5 for d in range(decades + 2)], 2.0 ** (decades + 1) - 1.5)
    widths = padded([0.0] + [9 * s / 2 ** (d + 1) for d, s in enumerate(starts[1:-1])] + [0.0], 0.0)
    lows = padded(starts, 1.0)
    mags32 = decode_numpy(np.arange(2 ** (decades + 1)), offsets, widths, lows)
    decode = np.concatenate([mags32, -mags32]) if signed else mags32.copy()
    if signed:
        decode[NAN_CODE] = np.nan  # "negative zero" stands for NaN
    return DynamicMap(
        signed,
        mags32,
        decode.astype(np.float32),
        padded(cuts, np.inf),
        padded(starts, starts[-1]),
        padded(inv_widths, inv_widths[-1]),
        padded(tops, tops[-1]),
        offsets,
        widths,
        lows,
    )


def decode_numpy(codes: np.ndarray, offsets: np.ndarray, widths: np.ndarray, lows: np.ndarray) -> np.ndarray:
    """What magnitude ``codes`` stand for: the decoding formula above, in float32."""
    c = np.asarray(codes, np.int64)
    d = np.frexp((c + 1).astype(np.float32))[1] - 1  # floor(log2(c + 1)), exact for these integers
    value = (c.astype(np.float32) - offsets[d]) * widths[d] + lows[d]
    return np.where(c == 0, np.float32(0), value).astype(np.float32)


#: The least ``absmax`` whose inverse is finite in float32: blocks are normalised by multiplying
#: with ``1 / absmax`` from here up (see :func:`adamkit.torch.lowbit.jit.normalizer`), by dividing below.
SMALLEST_NORMAL = np.float32(2.0**-126)

SIGNED = build(6, signed=True)
UNSIGNED = build(7, signed=False)


def encode_numpy(x: np.ndarray, cmap: DynamicMap, raw: np.ndarray | None = None) -> np.ndarray:
    """Codes of normalised values ``x`` (``x * (1 / absmax)``, float32): the rounding above, in NumPy.

    ``raw`` (default ``x``): the values before normalising, whose sign decides the unsigned
    map's floor (a positive value whose quotient underflowed still gets the smallest code).
    """
    x = np.asarray(x, np.float32)
    raw = x if raw is None else np.asarray(raw, np.float32)
    y = np.abs(x)
    d = (y[..., None] >= cmap.cuts).sum(-1)
    top = cmap.tops[d]
    with np.errstate(invalid="ignore"):
        z = np.floor((y - cmap.starts[d]) * cmap.inv_widths[d])
        z = np.where(z > 0, z, np.float32(0))
        z = np.where(z < top, z, top)
    code = (top + z).astype(np.int32)
    finite = np.isfinite(y)
    if cmap.signed:
        code |= (np.signbit(x) & (code != 0)).astype(np.int32) << 7
        code = np.where(finite, code, NAN_CODE)
    else:
        code = np.where(raw > 0, np.maximum(code, 1), code)
        code = np.where(np.isnan(y), SATURATED, code)
    return code.astype(np.uint8)
