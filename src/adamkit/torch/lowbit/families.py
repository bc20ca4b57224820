"""8-bit and bfloat16 state for the other fused families: each family's fp32 kernel on decoded chunks.

Adam has kernels of its own (:mod:`.adam_kernels`, the update and the codec interleaved).
Every other family without reductions (Adamax, NAdam, RAdam, SGD with momentum, RMSprop,
Adagrad) runs its fp32 kernel unchanged, in chunks of ``CHUNK`` values (four quantization
blocks) that stay in the L1 cache:

1. each state array of the chunk is decoded into a float32 buffer;
2. the family's work function (``<family>_work`` of :mod:`adamkit.torch.kernels`) runs over
   the chunk, given a one-row table whose state addresses are the buffers': the update
   is the fp32 kernel's, operation for operation;
3. each buffer is encoded back: per block of 256 values its largest magnitude and codes
   (the codec of :mod:`.adam_kernels`), or bfloat16 bits (stochastic rounding seeded per
   step and moment, as :func:`.codecs.to_bfloat16`; round to nearest for a rule that counts
   no steps, as :func:`.state.write_moment`).

The table is :mod:`.adam_kernels`'s (units of 16,384 values), with up to three state
arrays per tensor: row ``t`` of ``addresses`` is ``param, grad``, then per array its codes
and absmax (8 bits) or its bfloat16 tensor (16 bits), 0 for an array the flags leave
unused. The entry points' ``extra`` table (``tensors x ARRAYS``) holds per array whether it
takes the signed map (8 bits), or its rounding seed or :data:`NEAREST` (16 bits).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..kernels.jit import element, locate, memory_at, table
from .adam_kernels import _U8, _U16, BLOCK, MAPS, decode, encode
from .jit import bf16_load, bf16_store_stochastic, float_bits, magnitude_max

CHUNK = 4 * BLOCK  # values decoded, updated and encoded together
ARRAYS = 3  # state arrays per tensor, at most (RMSprop's)
NEAREST = 1 << 32  # a seed that means: round to nearest (no rule step to seed the noise)
_U64 = np.zeros(1, np.uint64)


@element
def bf16_store_nearest(x):
    """float32 ``x`` rounded to the nearest bfloat16 (ties to even), as torch's ``.to(torch.bfloat16)``;
    any NaN stored as the quiet NaN ``0x7FC0``, as the stochastic store does (torch's own NaN
    bits vary with its code path)."""
    bits = np.uint32(float_bits(x))
    out = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    return np.uint16(0x7FC0) if x != x else np.uint16(out)


@element
def chunk_arrays():
    """The one-row table of a chunk: its addresses, its size, its starts (one block)."""
    starts = np.zeros(2, np.int64)
    starts[1] = 1
    return np.zeros((1, 2 + ARRAYS), np.int64), np.zeros(1, np.int64), starts


@element
def chunk_table(a, stride, c, n, buffers, mini, mini_sizes):
    """The one-row table of a chunk of ``n`` values from element ``c``: its param and grad, and
    the buffers as its state arrays (0 where the tensor has none: array ``k``'s first address in
    ``a`` is ``a[2 + stride * k]``)."""
    mini[0, 0] = a[0] + 4 * c  # float32 elements
    mini[0, 1] = a[1] + 4 * c
    for k in range(ARRAYS):
        mini[0, 2 + k] = buffers[k].ctypes.data if a[2 + stride * k] != 0 else 0
    mini_sizes[0] = n


@element
def stored_codes(a, k, c, n, like):
    """Array ``k``'s codes for elements ``c : c + n`` and the scales of their blocks (``c`` a
    multiple of ``BLOCK``)."""
    first = c // BLOCK
    codes = memory_at(a[2 + 2 * k], c, c + n, _U8)
    return codes, memory_at(a[3 + 2 * k], first, first + (n + BLOCK - 1) // BLOCK, like)


@element
def decode_chunk(a, k, c, n, out, signed, like):
    """``out[:n]``: array ``k``'s values ``c : c + n``, decoded block by block."""
    codes, absmax = stored_codes(a, k, c, n, like)
    maps = MAPS[0] if signed else MAPS[1]
    for b in range(0, n, BLOCK):
        e = min(b + BLOCK, n)
        decode(codes[b:e], maps, absmax[b // BLOCK], out[b:e], signed)


@element
def encode_chunk(a, k, c, n, values, signed, like):
    """Array ``k``'s values ``c : c + n`` stored from ``values[:n]``: per block its largest
    magnitude, then the codes."""
    codes, absmax = stored_codes(a, k, c, n, like)
    maps = MAPS[0] if signed else MAPS[1]
    for b in range(0, n, BLOCK):
        e = min(b + BLOCK, n)
        largest = np.int32(0)
        for i in range(b, e):
            largest = magnitude_max(largest, values[i])
        absmax[b // BLOCK] = encode(values[b:e], largest, codes[b:e], signed, maps, False)


@element
def family8_unit(u, addresses, sizes, starts, scalars, work, signed, unit):
    """Unit ``u``: chunk by chunk, the state decoded, ``work`` run on it, the state encoded.

    ``addresses[t]``: ``param, grad``, then codes and absmax of each state array;
    ``signed[t, k]``: whether array ``k`` takes the signed map.
    """
    t, lo, hi = locate(u, sizes, starts, unit)
    a = addresses[t]
    buffers = np.empty((ARRAYS, CHUNK), np.float32)
    mini, mini_sizes, mini_starts = chunk_arrays()
    for c in range(lo, hi, CHUNK):
        n = min(CHUNK, hi - c)
        for k in range(ARRAYS):
            if a[2 + 2 * k] != 0:
                decode_chunk(a, k, c, n, buffers[k], signed[t, k] != 0, scalars[0])
        chunk_table(a, 2, c, n, buffers, mini, mini_sizes)
        work(0, mini, mini_sizes, mini_starts, scalars[t : t + 1], CHUNK)
        for k in range(ARRAYS):
            if a[2 + 2 * k] != 0:
                encode_chunk(a, k, c, n, buffers[k], signed[t, k] != 0, scalars[0])


@element
def family16_unit(u, addresses, sizes, starts, scalars, seeds, work, unit):
    """Unit ``u``: chunk by chunk, the bfloat16 state loaded, ``work`` run on it, the state rounded back.

    ``addresses[t]``: ``param, grad``, then each state array; ``seeds[t, k]``: array ``k``'s
    rounding seed, or :data:`NEAREST`.
    """
    t, lo, hi = locate(u, sizes, starts, unit)
    a = addresses[t]
    buffers = np.empty((ARRAYS, CHUNK), np.float32)
    mini, mini_sizes, mini_starts = chunk_arrays()
    for c in range(lo, hi, CHUNK):
        n = min(CHUNK, hi - c)
        for k in range(ARRAYS):
            if a[2 + k] != 0:
                stored = memory_at(a[2 + k], c, c + n, _U16)
                for i in range(n):
                    buffers[k, i] = bf16_load(stored[i])
        chunk_table(a, 1, c, n, buffers, mini, mini_sizes)
        work(0, mini, mini_sizes, mini_starts, scalars[t : t + 1], CHUNK)
        for k in range(ARRAYS):
            if a[2 + k] != 0:
                stored = memory_at(a[2 + k], c, c + n, _U16)
                seed = seeds[t, k]
                if seed == NEAREST:
                    for i in range(n):
                        stored[i] = bf16_store_nearest(buffers[k, i])
                else:
                    for i in range(n):  # the index in the tensor, mod 2**32
                        index = np.uint32((c + i) & 0xFFFFFFFF)
                        stored[i] = bf16_store_stochastic(buffers[k, i], index, seed)


def entries(family: str, work: Callable) -> dict[int, Callable]:
    """The C entry points of ``family``'s low-bit kernels (:func:`adamkit.torch.kernels.jit.entry_signature`),
    by precision; ``work`` is its fp32 work function."""

    def entry8(u, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
        a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
        signed = memory_at(extra, 0, tensors * extra_count, _U64).reshape((tensors, extra_count))
        family8_unit(u, a, z, s, c, work, signed, block)

    def entry16(u, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
        a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
        seeds = memory_at(extra, 0, tensors * extra_count, _U64).reshape((tensors, extra_count))
        family16_unit(u, a, z, s, c, seeds, work, block)

    found = {8: entry8, 16: entry16}
    for bits, entry in found.items():  # a name of its own: the compiled code is cached by name
        entry.__name__ = entry.__qualname__ = f"{family}{bits}_entry"
    return found
