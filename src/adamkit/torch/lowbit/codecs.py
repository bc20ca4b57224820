"""How one moment tensor is stored: float (32-bit), bfloat16 (16-bit) or 8-bit blockwise codes.

The readable torch version of each codec; the fused kernels (:mod:`.jit`) perform the
same float32 operations, so both produce the same stored bits.

State keys (in ``optimizer.state[param]`` and in ``state_dict()["state"][i]``), for a
moment called ``name`` (torch's name: ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``,
``momentum_buffer``, ``square_avg``, ``sum``, ...):

=============  ==========================================================================
precision      stored under
=============  ==========================================================================
32             ``name``: a float tensor shaped like the parameter (torch.optim's layout)
16             ``name``: a ``torch.bfloat16`` tensor shaped like the parameter (rounded
               stochastically where the rule counts steps: :func:`to_bfloat16`)
8              ``name + "_codes"``: ``torch.uint8``, shaped like the parameter; and
               ``name + "_absmax"``: ``torch.float32``, one scale per block of 256
               values of the flattened parameter (``ceil(numel / 256)`` values)
=============  ==========================================================================

An 8-bit value is ``decode[code] * absmax[block]``, with ``decode`` the signed map
(first moments: ``exp_avg``, ``momentum_buffer``, ``grad_avg``) or the unsigned map
(second moments) of :mod:`.dynamic_map`; ``absmax`` is the block's largest *finite*
magnitude, and the map's rules keep zero for zeros, tiny positive values off zero and NaN in
its own code (:mod:`.dynamic_map`). Storage per parameter: 1 byte plus 4/256 (0.016) bytes
per moment. The torch codec works ``CHUNK`` values at a time (no temporary the size of the
tensor: the state of a 50M-value model is created, converted and updated in a few MB).
"""

from __future__ import annotations

import zlib

import torch

from .dynamic_map import NAN_CODE, SATURATED, SIGNED, SMALLEST_NORMAL, UNSIGNED, DynamicMap

BLOCK = 256  # values per absmax
CODES, ABSMAX = "_codes", "_absmax"


def codes_key(name: str) -> str:
    return name + CODES


def absmax_key(name: str) -> str:
    return name + ABSMAX


def dynamic_map(signed: bool) -> DynamicMap:
    return SIGNED if signed else UNSIGNED


#: Values encoded or decoded at a time (a multiple of ``BLOCK``): the codec's temporaries (about
#: 40 bytes a value) stay a few MB whatever the tensor's size.
CHUNK = 64 * 1024


def _table(values, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(values, device=device)


def quantize(x: torch.Tensor, signed: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``(codes, absmax)`` of ``x``: uint8 codes shaped like ``x``, float32 scales per 256 values.

    Per block: ``absmax`` = the largest *finite* ``|x|`` (a NaN or infinity does not touch its
    block-mates); each value gets the code nearest to ``x * (1 / absmax)`` (:mod:`.dynamic_map`,
    with its rules for zero, tiny positive and non-finite values; normalised as the kernels'
    :func:`.jit.normalizer` does: an all-zero block multiplies by one, a subnormal ``absmax``
    divides). Encoded ``CHUNK`` values at a time: no temporary the size of ``x``.
    """
    flat = x.detach().reshape(-1)
    codes = torch.empty(flat.numel(), dtype=torch.uint8, device=x.device)
    absmax = torch.empty(-(-flat.numel() // BLOCK), dtype=torch.float32, device=x.device)
    quantize_into(flat, signed, codes, absmax)
    return codes.view(x.shape), absmax


def quantize_into(flat: torch.Tensor, signed: bool, codes: torch.Tensor, absmax: torch.Tensor) -> None:
    """:func:`quantize` of the flat ``flat`` written into ``codes`` (flat uint8) and ``absmax``."""
    n = flat.numel()
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        chunk_codes, chunk_absmax = _quantize_blocks(_blocks(flat[start:stop]), dynamic_map(signed))
        codes[start:stop] = chunk_codes.reshape(-1)[: stop - start]
        absmax[start // BLOCK : start // BLOCK + chunk_absmax.numel()] = chunk_absmax


def _blocks(flat: torch.Tensor) -> torch.Tensor:
    """``flat`` in float32, zero-padded to whole blocks: shape (blocks, 256)."""
    flat = flat.to(torch.float32)
    pad = (-flat.numel()) % BLOCK
    if pad:
        flat = torch.cat([flat, flat.new_zeros(pad)])
    return flat.view(-1, BLOCK)


def _quantize_blocks(blocks: torch.Tensor, cmap: DynamicMap) -> tuple[torch.Tensor, torch.Tensor]:
    """Codes (uint8, shaped like ``blocks``) and per-row ``absmax`` of float32 ``blocks`` (rows of 256)."""
    device = blocks.device
    absmax = torch.where(torch.isfinite(blocks), blocks.abs(), 0.0).amax(dim=1)
    multiply = ((absmax >= SMALLEST_NORMAL) | (absmax == 0))[:, None]
    factor = torch.where(absmax == 0, torch.ones_like(absmax), 1 / absmax)[:, None]
    normalized = torch.where(multiply, blocks * factor, blocks / absmax[:, None])
    y = normalized.abs()
    decade = torch.zeros(y.shape, dtype=torch.int32, device=device)  # index of the decade's constants
    for cut in cmap.cuts.tolist():  # the number of cuts y reaches (NaN reaches none)
        decade += y >= cut
    decade = decade.long()
    top = _table(cmap.tops, device)[decade]
    z = torch.floor((y - _table(cmap.starts, device)[decade]) * _table(cmap.inv_widths, device)[decade])
    z = torch.where(z > 0, z, torch.zeros_like(z))  # NaN -> 0, as the kernels' comparisons do
    z = torch.where(z < top, z, top)
    codes = (top + z).to(torch.int32)
    if cmap.signed:  # the sign bit on non-zero magnitudes; NaN and infinities: NAN_CODE
        codes = codes | ((torch.signbit(normalized) & (codes != 0)).to(torch.int32) << 7)
        codes = torch.where(torch.isfinite(y), codes, NAN_CODE)
    else:  # a positive value never rounds to zero; NaN saturates (infinity already does)
        codes = torch.where(blocks > 0, codes.clamp(min=1), codes)
        codes = torch.where(torch.isnan(y), SATURATED, codes)
    return codes.to(torch.uint8), absmax


def dequantize(codes: torch.Tensor, absmax: torch.Tensor, signed: bool) -> torch.Tensor:
    """The float32 values ``decode[codes] * absmax`` (shaped like ``codes``), ``CHUNK`` at a time."""
    table = _table(dynamic_map(signed).decode, codes.device)
    flat = codes.reshape(-1)
    out = torch.empty(flat.shape, dtype=torch.float32, device=codes.device)
    scales = absmax.reshape(-1).to(torch.float32)  # a DTensor shard's are (rows, row_size / 256)
    for start in range(0, flat.numel(), CHUNK):
        stop = min(start + CHUNK, flat.numel())
        chunk_scales = scales[start // BLOCK : -(-stop // BLOCK)].repeat_interleave(BLOCK)
        torch.mul(table[flat[start:stop].long()], chunk_scales[: stop - start], out=out[start:stop])
    return out.view(codes.shape)


def to_bfloat16(x: torch.Tensor, seed: int | None = None, offset: int = 0) -> torch.Tensor:
    """``x`` rounded to bfloat16: stochastically with a ``seed``, else to nearest (ties to even).

    Why stochastic: an exponential moving average such as Adam's ``v`` (``beta2 = 0.999``)
    changes by about 0.1 % a step, less than half a bfloat16 ulp (0.2 % to 0.4 %), so
    rounding to nearest gives the old value back: ``v`` never decays. Rounding up with
    probability equal to the dropped fraction is unbiased, so the average follows. The
    random 16 bits of element ``i`` are the top bits of ``(i + seed) * GOLDEN mod 2**32``
    (a Weyl sequence over the elements, shifted each step by the ``seed`` of
    :func:`rounding_seed`: step and moment), the same in the numba kernels: reproducible,
    bit for bit. ``offset``: the index of ``x``'s first element in its tensor (a chunk's).
    """
    x = x.detach().to(torch.float32)
    if seed is None:
        return x.to(torch.bfloat16)
    bits = x.view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    index = torch.arange(offset, offset + x.numel(), dtype=torch.int64, device=x.device).view(x.shape)
    noise = _mul32((index + seed) & 0xFFFFFFFF, GOLDEN) >> 16
    out = (bits + noise) >> 16  # an infinity's low 16 bits are 0: the noise leaves it infinite
    out = torch.where(torch.isnan(x), torch.full_like(out, 0x7FC0), out)
    return (out - ((out >> 15) << 16)).to(torch.int16).view(torch.bfloat16)  # 16 bits, as int16


GOLDEN = 0x9E3779B1  # 2**32 / golden ratio, odd: multiplying by it spreads consecutive integers


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """``x * c mod 2**32`` for int64 ``x`` in [0, 2**32), without overflowing int64."""
    low, high = c & 0xFFFF, c >> 16
    return (x * low + (((x * high) & 0xFFFF) << 16)) & 0xFFFFFFFF


def _hash32(x: int) -> int:
    """Wellons' "lowbias32" integer hash (32 bits)."""
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)


# The seed advances by STEP_STRIDE a step, so element i's noise advances by
# STEP_STRIDE * GOLDEN = (sqrt(2) - 1) * 2**32 (mod 2**32): a Weyl sequence over the steps too.
STEP_STRIDE = 0x28E6FEE8


def rounding_seed(step: float, name: str) -> int:
    """The seed of moment ``name``'s stochastic rounding at ``step`` (32 bits).

    Why a sequence and not a hash of the step: a moment that changes by less than an ulp a
    step (Adam's ``v``: 0.1 %, the ulp 0.4 % to 0.8 %) moves by its roundings alone, and
    ``beta2 = 0.999`` keeps each rounding's error for about a thousand steps. With fresh
    independent noise each step those errors add up as a random walk: the stored ``v``
    strays 3.5 % to 5 % (rms) from float64 Adam's. Each element's noise walking the steps
    as a Weyl sequence (by ``sqrt(2) - 1``) spreads its rounding decisions evenly, so
    successive errors partly cancel: about 3 % (``experiments/bf16_tracking.py``). Still
    unbiased in the mean over steps; the moment's own per-name offset is hashed.
    """
    return (int(step) * STEP_STRIDE + _hash32(zlib.crc32(name.encode()))) & 0xFFFFFFFF
