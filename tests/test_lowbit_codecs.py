"""The state codecs: the dynamic maps, rounding to the nearest code, and torch == numba bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adamkit.torch.lowbit import codecs
from adamkit.torch.lowbit.dynamic_map import SIGNED, UNSIGNED, encode_numpy

MAPS = {"signed": SIGNED, "unsigned": UNSIGNED}


def adversarial(cmap, n: int = 20000, seed: int = 0) -> np.ndarray:
    """Normalised values in [-1, 1] (>= 0 for the unsigned map): random over nine decades,
    every code's value, every midpoint between codes and the floats right beside them."""
    rng = np.random.default_rng(seed)
    mags = cmap.magnitudes.astype(np.float64)
    mids = ((mags[:-1] + mags[1:]) / 2).astype(np.float32)
    parts = [
        rng.uniform(0, 1, n),
        10.0 ** rng.uniform(-9, 0, n),
        mags,
        mids,
        np.nextafter(mids, np.float32(0)),
        np.nextafter(mids, np.float32(1)),
        [0.0, 1.0, 1e-38, 1e-45],
    ]
    y = np.concatenate([np.asarray(p, np.float32) for p in parts]).astype(np.float32)
    y = np.clip(y, 0, 1)
    if cmap.signed:
        y = np.concatenate([y, -y])
    return y


@pytest.mark.parametrize("name", MAPS)
def test_map_is_the_papers_dynamic_map(name):
    cmap = MAPS[name]
    mags = cmap.magnitudes
    decades = 6 if cmap.signed else 7
    assert len(mags) == (128 if cmap.signed else 256)
    assert mags[0] == 0 and mags[-1] == 1 and np.all(np.diff(mags) > 0)
    for k in range(decades):  # decade k: 2**(k+1) bin midpoints of [10**(k-D), 10**(k-D+1)]
        low, bins = 10.0 ** (k - decades), 2 ** (k + 1)
        inside = mags[(mags > low) & (mags < 10 * low)]
        expected = low + (np.arange(bins) + 0.5) * 9 * low / bins
        np.testing.assert_allclose(inside, expected, rtol=1e-6)
    if cmap.signed:  # symmetric: bit 7 is the sign
        np.testing.assert_array_equal(cmap.decode[129:], -cmap.decode[1:128])
        assert np.isnan(cmap.decode[128])  # "negative zero" stands for NaN
    assert len(cmap.decode) == 256


@pytest.mark.parametrize("name", MAPS)
def test_rounding_gives_the_nearest_code(name):
    cmap = MAPS[name]
    y = adversarial(cmap)
    codes = encode_numpy(y, cmap)
    got = np.abs(cmap.decode[codes].astype(np.float64) - y)
    distance = np.abs(cmap.decode.astype(np.float64)[None, :] - y[:, None].astype(np.float64))
    if not cmap.signed:  # a positive value's nearest code among the non-zero ones (zero is for zeros)
        distance[y > 0, 0] = np.inf
    best = np.nanmin(distance, axis=1)  # (the signed map's NaN code is never nearest)
    # nearest, up to float32 rounding for a value within ulps of a midpoint (either code is as near)
    assert np.all(got <= best + 4 * np.spacing(np.abs(y).astype(np.float32)).astype(np.float64))
    random = slice(0, 40000)  # away from the midpoints: exactly the nearest
    assert np.mean(got[random] == best[random]) > 0.9999


@pytest.mark.parametrize("name", MAPS)
def test_every_code_encodes_to_itself(name):
    cmap = MAPS[name]
    codes = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(encode_numpy(cmap.decode[codes], cmap), codes)


def test_exact_zero_one_negative_zero_tiny_and_non_finite_values():
    x = np.array([0.0, 1.0, -0.0, -1.0, -1e-9, np.nan, np.inf, -np.inf], np.float32)
    assert list(encode_numpy(x, SIGNED)) == [0, 127, 0, 255, 0, 128, 128, 128]
    # unsigned: zero only for zero; a positive value, however small, gets the smallest code
    x = np.array([0.0, 1.0, 1e-30, 1e-7, np.nan, np.inf], np.float32)
    assert list(encode_numpy(x, UNSIGNED)) == [0, 255, 1, 1, 255, 255]
    assert list(encode_numpy(np.zeros(2, np.float32), UNSIGNED, raw=np.float32([1e-40, 0]))) == [1, 0]


@pytest.mark.parametrize("signed", [True, False])
def test_blockwise_codec(signed):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1000, 37, generator=gen) * torch.logspace(-6, 0, 37)  # 145 blocks, the last partial
    if not signed:
        x = x.abs()
    x[3, :] = 0.0
    codes, absmax = codecs.quantize(x, signed)
    assert codes.dtype == torch.uint8 and codes.shape == x.shape
    assert absmax.dtype == torch.float32 and absmax.shape == (-(-x.numel() // 256),)
    blocks = torch.nn.functional.pad(x.reshape(-1), (0, absmax.numel() * 256 - x.numel()))
    torch.testing.assert_close(absmax, blocks.view(-1, 256).abs().amax(1), rtol=0, atol=0)
    back = codecs.dequantize(codes, absmax, signed)
    # every value within half the widest gap of its map, relative to its block's absmax
    gap = float(np.max(np.diff(codecs.dynamic_map(signed).magnitudes)))
    scale = absmax.repeat_interleave(256)[: x.numel()].view_as(x)
    assert torch.all((back - x).abs() <= gap / 2 * scale + 1e-12)
    # the largest magnitude of each block is stored exactly
    assert torch.equal(back.reshape(-1).abs().max(), x.abs().max())
    # decoding and encoding again gives the same bits
    again = codecs.quantize(back, signed)
    assert torch.equal(again[0], codes) and torch.equal(again[1], absmax)
    # the torch codec is the NumPy spec
    normalized = (blocks.view(-1, 256) / torch.where(absmax > 0, absmax, 1)[:, None]).reshape(-1)
    spec = encode_numpy(normalized.numpy(), codecs.dynamic_map(signed))[: x.numel()]
    np.testing.assert_array_equal(spec, codes.reshape(-1).numpy())


def test_bfloat16_codec_without_a_seed_rounds_to_nearest_even():
    x = torch.tensor([1.0 + 2**-8, 1.0 + 3 * 2**-8, -(1.0 + 2**-8), 3e-39, float("inf"), 1e-3])
    got = codecs.to_bfloat16(x).float()
    assert got.tolist()[:3] == [1.0, 1.0 + 2**-6, -1.0]  # ties to even
    assert got[4] == float("inf")


numba = pytest.importorskip("numba")


def test_numba_encoder_equals_torch_codec_bit_for_bit():
    from adamkit.torch.lowbit import jit

    for signed, cmap in ((True, SIGNED), (False, UNSIGNED)):
        rounding = jit.rounding(cmap)
        y = adversarial(cmap, seed=1)
        values = np.resize(y, 256 * (y.size // 256)).astype(np.float32) * np.float32(3.7e-4)
        codes_t, absmax_t = codecs.quantize(torch.from_numpy(values), signed)
        codes = np.empty(values.size, np.uint8)
        for b in range(values.size // 256):
            block = values[256 * b : 256 * (b + 1)]
            bits = np.int32(np.abs(block).max().view(np.int32))
            scale = jit.encode_block(block, bits, codes[256 * b : 256 * (b + 1)], signed, rounding)
            assert scale == absmax_t[b].item()
        np.testing.assert_array_equal(codes, codes_t.numpy())
        zeros = np.zeros(256, np.float32)
        codes = np.full(256, 7, np.uint8)
        assert jit.encode_block(zeros, np.int32(0), codes, signed, rounding) == 0
        assert np.all(codes == 0)


def test_numba_block_encoder_equals_torch_quantize():
    from adamkit.torch.lowbit import jit

    gen = torch.Generator().manual_seed(2)
    x = torch.randn(256, generator=gen) * 1e-3
    for signed, cmap in ((True, SIGNED), (False, UNSIGNED)):
        values = x if signed else x.abs()
        codes_t, absmax_t = codecs.quantize(values, signed)
        codes = np.empty(256, np.uint8)
        bits = np.int32(values.abs().max().numpy().view(np.int32))
        scale = jit.encode_block(values.numpy(), bits, codes, signed, jit.rounding(cmap))
        assert scale == absmax_t.item()
        np.testing.assert_array_equal(codes, codes_t.numpy())
        out = np.empty(256, np.float32)
        jit.decode_block(codes, cmap.decode, np.float32(scale), out)
        np.testing.assert_array_equal(out, codecs.dequantize(codes_t, absmax_t, signed).numpy())


def test_numba_bfloat16_store_equals_torch():
    from numba import njit

    from adamkit.torch.lowbit.jit import bf16_load, bf16_store_stochastic

    @njit
    def store_all(x, seed, out):
        for i in range(x.size):
            out[i] = bf16_store_stochastic(x[i], i, seed)

    @njit
    def load_all(s, out):
        for i in range(s.size):
            out[i] = bf16_load(s[i])

    gen = torch.Generator().manual_seed(3)
    x = torch.cat(
        [
            torch.randn(10000, generator=gen) * 10.0 ** torch.randint(-40, 38, (10000,), generator=gen),
            torch.tensor([1.0 + 2**-8, 1.0 + 3 * 2**-8, 3.4e38, float("inf"), -float("inf")]),
            torch.tensor([float("nan"), 0.0, -0.0, 1e-45, -1e-40]),
        ]
    ).float()
    seed = codecs.rounding_seed(17, "exp_avg_sq")
    stored = np.empty(x.numel(), np.uint16)
    store_all(x.numpy(), np.uint64(seed), stored)
    expected = codecs.to_bfloat16(x, seed).view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(stored, expected)
    loaded = np.empty(x.numel(), np.float32)
    load_all(stored, loaded)
    np.testing.assert_array_equal(loaded, codecs.to_bfloat16(x, seed).float().numpy())


def test_numba_bfloat16_round_to_nearest_equals_torch():
    """The families' store for rules that count no steps (:func:`.families.bf16_store_nearest`)."""
    from numba import njit

    from adamkit.torch.lowbit.families import bf16_store_nearest

    @njit
    def store_all(x, out):
        for i in range(x.size):
            out[i] = bf16_store_nearest(x[i])

    gen = torch.Generator().manual_seed(4)
    ties = [1.0 + 2**-8, 1.0 + 3 * 2**-8, -(1.0 + 2**-8), 2.0 - 2**-8]  # halfway: to even, both ways
    edges = [3.4e38, 3.3961776e38, float("inf"), -float("inf"), float("nan"), -0.0, 1e-45]
    x = torch.cat(
        [
            torch.randn(10000, generator=gen) * 10.0 ** torch.randint(-40, 38, (10000,), generator=gen),
            torch.tensor(ties + edges),
        ]
    ).float()
    stored = np.empty(x.numel(), np.uint16)
    store_all(x.numpy(), stored)
    expected = x.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    nan = x.isnan().numpy()  # any NaN is stored as the quiet NaN 0x7FC0 (torch's CPU gave 0xFFFF here)
    np.testing.assert_array_equal(stored[~nan], expected[~nan])
    assert (stored[nan] == 0x7FC0).all() and nan.sum() == 1


def test_stochastic_rounding_is_unbiased_and_stays_between_neighbours():
    x = torch.full((200000,), 1.0 + 2**-10)  # a quarter of the way from 1 to the next bfloat16
    rounded = codecs.to_bfloat16(x, codecs.rounding_seed(3, "exp_avg")).double()
    assert set(rounded.unique().tolist()) == {1.0, 1.0 + 2**-7}
    assert abs(rounded.mean().item() - (1.0 + 2**-10)) < 2e-5
    exact = torch.tensor([1.5, -0.25, 0.0, float("inf")])  # bfloat16 values stay as they are
    assert torch.equal(codecs.to_bfloat16(exact, 99).float(), exact)
    assert torch.isnan(codecs.to_bfloat16(torch.tensor([float("nan")]), 1).float()).all()
    # another step or another moment draws other bits
    other = codecs.to_bfloat16(x, codecs.rounding_seed(4, "exp_avg")).double()
    assert not torch.equal(other, rounded)


def test_cuts_are_more_than_an_octave_apart():
    """The vector encoder finds a decade from the octave's first one and one comparison."""
    for cmap in MAPS.values():
        cuts = cmap.cuts[np.isfinite(cmap.cuts)].astype(np.float64)
        assert np.all(cuts[1:] / cuts[:-1] > 2)


def test_vector_encoder_equals_portable_encoder():
    from adamkit.torch.lowbit import jit, simd

    if not simd.AVAILABLE:
        pytest.skip("the host CPU has no AVX-512: the portable encoder is the one used")
    for signed, cmap in ((True, SIGNED), (False, UNSIGNED)):
        finite_blocks = 0
        rounding = jit.rounding(cmap)
        y = adversarial(cmap, seed=4)
        # beyond the scale and far below the first cut too (octaves outside the table's 32)
        outside = [2.0, 3e5, 1e30, 3e38, 1e-12, 2.0**-40, 1e-40]
        outside += [-v for v in outside] if signed else []
        y = np.concatenate([y, [np.nan, -np.nan, np.inf, -np.inf], outside]).astype(np.float32)
        y = np.concatenate([y, np.random.default_rng(5).permutation(y)])  # the rare values in other lanes
        for n, stride in ((256, 256), (250, 250), (7, 997)):  # whole vectors (every value), and a tail
            for start in range(0, y.size - n, stride):
                block = y[start : start + n] * np.float32(0.37)
                bits = np.int32(np.float32(0.37).view(np.int32))
                fast, slow = np.empty(n, np.uint8), np.empty(n, np.uint8)
                tables = simd.tables(cmap)
                scale = simd.encode_block_simd(block, bits, fast, signed, tables, rounding, False)
                assert scale == np.float32(0.37)
                jit.encode_block(block, bits, slow, signed, rounding)
                np.testing.assert_array_equal(fast, slow)
                if np.isfinite(block).all() and (np.abs(block) <= np.float32(0.37)).all():
                    # the shorter step for blocks known finite and within their scale: the same codes
                    fast[:] = 0
                    simd.encode_block_simd(block, bits, fast, signed, tables, rounding, True)
                    np.testing.assert_array_equal(fast, slow)
                    finite_blocks += 1
        assert finite_blocks > 100  # (most blocks of the adversarial values are)


@pytest.mark.parametrize("name", MAPS)
def test_decode_table_is_the_float32_formula(name):
    """The table holds what the formula computes in float32, within two ulps of the float64 midpoints."""
    from adamkit.torch.lowbit.dynamic_map import decode_numpy

    cmap = MAPS[name]
    codes = np.arange(len(cmap.magnitudes))
    formula = decode_numpy(codes, cmap.offsets, cmap.widths, cmap.lows)
    np.testing.assert_array_equal(formula.view(np.int32), cmap.magnitudes.view(np.int32))
    decades = 6 if cmap.signed else 7
    exact = [0.0]
    for k in range(decades):
        low, bins = 10.0 ** (k - decades), 2 ** (k + 1)
        exact.extend(low + (np.arange(bins) + 0.5) * 9 * low / bins)
    exact = np.array(exact + [1.0])
    assert np.all(np.abs(formula - exact) <= 2 * np.spacing(exact.astype(np.float32)))


def test_octave_formula_counts_the_cuts_below_every_octave():
    from adamkit.torch.lowbit import avx2

    exponents = np.arange(256)
    for cmap in MAPS.values():
        intercept = avx2.octave_formula(cmap)
        counted = np.clip((exponents * avx2.SLOPE + intercept) >> 8, 0, 7)
        np.testing.assert_array_equal(counted, avx2.cuts_below_octaves(cmap))
        assert counted[127] == 7 and counted[0] == 0


def test_avx2_codec_equals_portable_codec():
    from adamkit.torch.lowbit import avx2, jit

    if not avx2.AVAILABLE:
        pytest.skip("the host CPU has no AVX2: the portable codec is the one used")
    for signed, cmap in ((True, SIGNED), (False, UNSIGNED)):
        rounding, tables = jit.rounding(cmap), avx2.tables(cmap)
        codes = np.tile(np.arange(256, dtype=np.uint8), 3)
        for n in (256, 250, 7):  # whole vectors, and a tail
            fast, slow = np.empty(n, np.float32), np.empty(n, np.float32)
            avx2.decode_block_avx2(codes[5 : 5 + n], tables, np.float32(0.37), fast, signed, cmap.decode)
            jit.decode_block(codes[5 : 5 + n], cmap.decode, np.float32(0.37), slow)
            np.testing.assert_array_equal(fast.view(np.int32), slow.view(np.int32))
        y = adversarial(cmap, seed=4)
        y = np.concatenate([y, [np.nan, -np.nan, np.inf, -np.inf, 3e-39]]).astype(np.float32)
        for n in (256, 250, 7):
            for start in range(0, y.size - n, 997):
                block = y[start : start + n] * np.float32(0.37)
                bits = np.int32(np.float32(0.37).view(np.int32))
                fast, slow = np.empty(n, np.uint8), np.empty(n, np.uint8)
                assert avx2.encode_block_avx2(block, bits, fast, signed, tables, rounding) == np.float32(0.37)
                jit.encode_block(block, bits, slow, signed, rounding)
                np.testing.assert_array_equal(fast, slow)


def encoders(cmap, finite: bool = False):
    """Every block encoder this CPU runs, as ``encode(block, scale_bits) -> codes`` (``finite``: with
    AVX-512's shorter step for blocks known finite and within their scale, too)."""
    from adamkit.torch.lowbit import avx2, jit, simd

    rounding, tables = jit.rounding(cmap), avx2.tables(cmap)

    def run(function, *constants):
        def encode(block, bits):
            codes = np.empty(block.size, np.uint8)
            function(block, bits, codes, cmap.signed, *constants)
            return codes

        return encode

    found = {"portable": run(jit.encode_block, rounding)}
    if avx2.AVAILABLE:
        found["avx2"] = run(avx2.encode_block_avx2, tables, rounding)
    if simd.AVAILABLE:
        found["avx512"] = run(simd.encode_block_simd, simd.tables(cmap), rounding, False)
        if finite:
            found["avx512 finite"] = run(simd.encode_block_simd, simd.tables(cmap), rounding, True)
    return found


def near_midpoints(cmap, scale: float) -> np.ndarray:
    """The floats within 4 ulps of each midpoint between codes times ``scale`` (where normalising by
    a division or by a multiplication can round to different codes), with either sign."""
    mags = cmap.magnitudes.astype(np.float64)
    x = (((mags[:-1] + mags[1:]) / 2) * scale).astype(np.float32)
    x = np.concatenate([np.maximum(x.view(np.int32) + k, 0).view(np.float32) for k in range(-4, 5)])
    x = np.minimum(x, np.float32(scale))  # the block's absmax stays ``scale``
    return np.concatenate([x, -x]) if cmap.signed else x


@pytest.mark.parametrize("scale", [0.37, 3.7e-4, 1.3e-38, 1e-39, 1e-44, 0.0])
def test_blocks_are_normalised_by_the_inverse_scale_or_below_normal_by_division(scale):
    """The codes of ``x * (1 / absmax)``, or of ``x / absmax`` when ``absmax`` is subnormal (its
    inverse overflows), in every codec: torch, portable, AVX2 and AVX-512 where they run."""
    for cmap in (SIGNED, UNSIGNED):
        values = near_midpoints(cmap, scale) if scale else np.array([0.0, -0.0] * 300, np.float32)
        absmax = np.float32(scale)
        for start in range(0, values.size - 249, 249):  # blocks of 250 (vectors and a tail), absmax last
            block = np.append(values[start : start + 249], absmax).astype(np.float32)
            if absmax >= np.float32(2.0**-126):
                expected = encode_numpy(block * (np.float32(1.0) / absmax), cmap)
            elif absmax > 0:
                expected = encode_numpy(block / absmax, cmap)
            else:  # zeros, multiplied by one (the signed map keeps the sign of -0)
                expected = encode_numpy(block, cmap)
            codes, _ = codecs.quantize(torch.from_numpy(block), cmap.signed)
            np.testing.assert_array_equal(codes.numpy(), expected)
            for name, encode in encoders(cmap, finite=True).items():  # (finite, within the scale)
                got = encode(block, np.int32(absmax.view(np.int32)))
                np.testing.assert_array_equal(got, expected, err_msg=f"{name} encoder, scale {scale}")


def test_every_encoder_keeps_zero_for_zeros_and_non_finite_values_apart():
    """In every codec (torch, portable, AVX2, AVX-512 where they run; the NumPy spec): a block's scale
    is its largest finite magnitude; NaN and infinities get the signed map's NaN code or the unsigned
    map's largest; a positive value never gets the unsigned map's code of zero, even where its
    quotient by the scale underflows; a negative value rounding to zero gets code 0."""
    special = [np.nan, np.inf, -np.inf, 1e-30, -1e-30, 1e-44, 0.0, -0.0, 3e-8, 2.5]
    for cmap in (SIGNED, UNSIGNED):
        values = np.array(special if cmap.signed else [abs(v) for v in special], np.float32)
        block = np.resize(values, 250).astype(np.float32)
        block[7] = 1e38 if cmap.signed else 3e38  # a huge finite scale: 1e-44 / scale underflows
        absmax = np.float32(np.max(np.abs(block[np.isfinite(block)])))
        expected = encode_numpy(block * (np.float32(1.0) / absmax), cmap, raw=block)
        assert expected[3] == (0 if cmap.signed else 1) and expected[4] == (0 if cmap.signed else 1)
        assert list(expected[:3]) == ([0x80] * 3 if cmap.signed else [0xFF, 0xFF, 0xFF])
        codes, scales = codecs.quantize(torch.from_numpy(block), cmap.signed)
        assert scales.item() == absmax
        np.testing.assert_array_equal(codes.numpy(), expected)
        back = codecs.dequantize(codes, scales, cmap.signed).numpy()
        finite = np.isfinite(block)
        assert np.isnan(back[~finite]).all() if cmap.signed else (back[~finite] == absmax).all()
        assert np.isfinite(back[finite]).all()
        if not cmap.signed:  # no positive value decodes to zero
            assert (back[finite & (block > 0)] > 0).all()
        for name, encode in encoders(cmap).items():
            got = encode(block, np.int32(absmax.view(np.int32)))
            np.testing.assert_array_equal(got, expected, err_msg=f"{name} encoder")


def test_vector_decoder_gives_nan_for_the_nan_code():
    from adamkit.torch.lowbit import avx2

    if not avx2.AVAILABLE:
        pytest.skip("no AVX2 here")
    for cmap in (SIGNED, UNSIGNED):
        codes = np.arange(256, dtype=np.uint8)
        fast = np.empty(256, np.float32)
        avx2.decode_block_avx2(codes, avx2.tables(cmap), np.float32(0.37), fast, cmap.signed, cmap.decode)
        np.testing.assert_array_equal(fast, cmap.decode * np.float32(0.37))  # NaN where the table has it


def test_vbmi_decoder_equals_the_table_times_the_scale():
    """The byte-lookup decoder (AVX-512 VBMI) gives ``decode[code] * scale`` as NumPy computes it, bit
    for bit (NaN's bits included): every code, in shuffled order, at scales from subnormal to huge,
    zero and non-finite; whole steps of 64 and tails (the AVX2 and portable loops)."""
    from adamkit.torch.lowbit import avx2, jit, vbmi

    if not vbmi.AVAILABLE:
        pytest.skip("the host CPU has no AVX-512 VBMI: the AVX2 or portable decoder is the one used")
    rng = np.random.default_rng(7)
    scales = np.concatenate(
        [10.0 ** rng.uniform(-44, 38, 40), [0.37, 1.0, 0.0, -0.0, 1e-45, 3.4e38, np.inf, np.nan]]
    ).astype(np.float32)
    for cmap in (SIGNED, UNSIGNED):
        planes, tables = vbmi.planes(cmap.decode), avx2.tables(cmap)
        codes = rng.permutation(np.tile(np.arange(256, dtype=np.uint8), 4))
        for scale in scales:
            for start, n in ((0, 1024), (3, 256), (5, 250), (64, 63), (1, 1)):
                block = codes[start : start + n]
                fast, slow = np.empty(n, np.float32), np.empty(n, np.float32)
                vbmi.decode_block_vbmi(block, planes, scale, fast, cmap.signed, tables, cmap.decode)
                jit.decode_block(block, cmap.decode, scale, slow)
                with np.errstate(invalid="ignore"):  # 0 * inf
                    expected = cmap.decode[block] * scale
                np.testing.assert_array_equal(fast.view(np.int32), expected.view(np.int32))
                np.testing.assert_array_equal(slow.view(np.int32), expected.view(np.int32))
        assert np.isnan(cmap.decode[0x80]) == cmap.signed  # the NaN code is among those checked
