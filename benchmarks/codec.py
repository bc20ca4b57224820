"""The 8-bit codec alone: nanoseconds a value for every decoder and encoder this CPU runs, one thread.

Each codec path (:mod:`adamkit.torch.lowbit`: the portable loops, AVX2, AVX-512 VBMI byte lookups
for decoding, the AVX-512 encoder) works block by block (256 values, as the 8-bit step calls
them) over 102,400 values of the signed and the unsigned map: about what one step of the
articles' MLP decodes and encodes per moment, in the L2 cache. Every path's output is first
checked equal to the portable one's, bit for bit; then the paths take turns (the first place
rotating) and each row reports the median of the rounds. Last, the 8-bit step's work on a block
as the kernel does it with the codec this CPU runs (decode both moments, Adam's update, encode
both), in ns a parameter; ``make bench`` times whole steps.

Usage:
    python benchmarks/codec.py                 # every path, 15 rounds
    python benchmarks/codec.py --rounds 31
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from adamkit.torch.lowbit import adam_kernels, avx2, simd, vbmi  # noqa: E402
from adamkit.torch.lowbit.dynamic_map import SIGNED, UNSIGNED  # noqa: E402

BLOCK = 256
VALUES = 400 * BLOCK
REPEATS = 10  # passes over the values per timed call


def decoders() -> dict:
    """name -> ``decode(codes, constants, scale, out, signed)`` for the paths this CPU runs."""
    found = {"portable": adam_kernels._decode_portable}
    if avx2.AVAILABLE:
        found["AVX2"] = adam_kernels._decode_vector
    if vbmi.AVAILABLE:
        found["AVX-512 VBMI"] = adam_kernels._decode_vbmi
    return found


def encoders() -> dict:
    """name -> ``(encode(values, scale_bits, codes, signed, constants, finite), finite)`` for the paths
    this CPU runs (``finite``: the block is known finite and within its scale, as a step knows)."""
    found = {"portable": (adam_kernels._encode_portable, False)}
    if avx2.AVAILABLE:
        found["AVX2"] = (adam_kernels._encode_avx2, False)
    if simd.AVAILABLE:
        found["AVX-512"] = (adam_kernels._encode_avx512, False)
        found["AVX-512, block known finite"] = (adam_kernels._encode_avx512, True)
    return found


def decode_loop(decode):
    @njit(nogil=True)
    def run(codes, scales, out, signed, constants, repeats):
        for _ in range(repeats):
            for b in range(codes.size // BLOCK):
                j = b * BLOCK
                decode(codes[j : j + BLOCK], constants, scales[b], out[j : j + BLOCK], signed)

    return run


def encode_loop(path):
    encode, finite = path

    @njit(nogil=True)
    def run(values, scale_bits, codes, signed, constants, repeats):
        for _ in range(repeats):
            for b in range(values.size // BLOCK):
                j = b * BLOCK
                encode(values[j : j + BLOCK], scale_bits[b], codes[j : j + BLOCK], signed, constants, finite)

    return run


@njit(nogil=True)
def block_steps(param, grad, m_codes, v_codes, m_absmax, v_absmax, scalars, repeats):
    """Adam's 8-bit step, block by block, as :func:`adamkit.torch.lowbit.adam_kernels.adam8_unit`
    runs it (without its prefetches and its table of tensors)."""
    buffers = np.empty((2, BLOCK), np.float32)
    signed_map, unsigned_map = adam_kernels.MAPS
    for _ in range(repeats):
        for b in range(param.size // BLOCK):
            j, k = b * BLOCK, (b + 1) * BLOCK
            m, v = buffers[0], buffers[1]
            adam_kernels.decode(m_codes[j:k], signed_map, m_absmax[b], m, True)
            adam_kernels.decode(v_codes[j:k], unsigned_map, v_absmax[b], v, False)
            (m_max, m_ok), (v_max, v_ok), _ = adam_kernels.adam_update(param[j:k], grad[j:k], m, v, scalars)
            m_absmax[b] = adam_kernels.encode(m, m_max, m_codes[j:k], True, signed_map, m_ok)
            v_absmax[b] = adam_kernels.encode(v, v_max, v_codes[j:k], False, unsigned_map, v_ok)


@njit(nogil=True)
def update_steps(param, grad, m_codes, v_codes, m_absmax, v_absmax, scalars, repeats):
    """:func:`block_steps` without its codec: Adam's update of each block on float32 moments held in
    the L1 cache (one block's, decoded once and carried from block to block: Adam's moving averages
    of the gradients keep them in range), what the 8-bit step computes besides decoding and encoding."""
    m, v = np.empty(BLOCK, np.float32), np.empty(BLOCK, np.float32)
    signed_map, unsigned_map = adam_kernels.MAPS
    adam_kernels.decode(m_codes[:BLOCK], signed_map, m_absmax[0], m, True)
    adam_kernels.decode(v_codes[:BLOCK], unsigned_map, v_absmax[0], v, False)
    for _ in range(repeats):
        for b in range(param.size // BLOCK):
            j, k = b * BLOCK, (b + 1) * BLOCK
            adam_kernels.adam_update(param[j:k], grad[j:k], m, v, scalars)


def step_ns(rounds: int) -> dict[str, float]:
    """Median ns a parameter of :func:`block_steps` and :func:`update_steps` (Adam's defaults,
    lr 1e-3, step 10), in turns."""
    rng = np.random.default_rng(1)
    param = (rng.standard_normal(VALUES) * 0.02).astype(np.float32)
    grad = (rng.standard_normal(VALUES) * 1e-3).astype(np.float32)
    m_codes = rng.integers(1, 128, VALUES).astype(np.uint8)  # no NaN code
    v_codes = rng.integers(1, 256, VALUES).astype(np.uint8)
    m_absmax = np.full(VALUES // BLOCK, 1e-3, np.float32)
    v_absmax = np.full(VALUES // BLOCK, 1e-6, np.float32)
    beta1, beta2, lr, step = 0.9, 0.999, 1e-3, 10
    # adamkit.torch.kernels.adam.scalars' row: sign, l2, weight decay, decay, 1 - beta1, beta2,
    # 1 - beta2, amsgrad, step size, sqrt(bias correction 2), eps
    scalars = np.array(
        [1, 0, 0, 1, 1 - beta1, beta2, 1 - beta2, 0, lr / (1 - beta1**step), (1 - beta2**step) ** 0.5, 1e-8],
        np.float32,
    )
    arguments = (param, grad, m_codes, v_codes, m_absmax, v_absmax, scalars)
    paths = {"step": block_steps, "update": update_steps}
    for path in paths.values():
        path(*arguments, 1)
    return timed(paths, dict.fromkeys(paths, arguments), rounds)


def inputs(signed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Codes and scales to decode; values (a moment's spread over six decades) and their scales' bits."""
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, VALUES).astype(np.uint8)
    scales = (10.0 ** rng.uniform(-8, -2, VALUES // BLOCK)).astype(np.float32)
    values = (rng.standard_normal(VALUES) * 10.0 ** rng.uniform(-6, 0, VALUES)).astype(np.float32)
    values = values if signed else np.abs(values)
    largest = np.abs(values).reshape(-1, BLOCK).max(axis=1).astype(np.float32)
    return codes, scales, values, largest.view(np.int32)


def timed(paths: dict, arguments: dict, rounds: int) -> dict[str, float]:
    """Median ns a value of each path, rounds interleaved with a rotating first place."""
    names = list(paths)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            paths[name](*arguments[name], REPEATS)
            times[name].append((time.perf_counter() - start) / REPEATS / VALUES * 1e9)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(f"8-bit codec, ns a value, one thread, load average {os.getloadavg()[0]:.2f}")
    print("| map | direction | " + " | ".join(["path", "ns/value", "vs portable"]) + " |")
    print("|---|---|---|---|---|")
    for signed, cmap in ((True, SIGNED), (False, UNSIGNED)):
        constants = adam_kernels.MAPS[0] if signed else adam_kernels.MAPS[1]
        codes, scales, values, scale_bits = inputs(signed)
        directions = (("decode", decoders(), decode_loop), ("encode", encoders(), encode_loop))
        for direction, paths, loop in directions:
            runs, arguments, outputs = {}, {}, {}
            for name, path in paths.items():
                runs[name] = loop(path)
                out = np.empty(VALUES, np.float32 if direction == "decode" else np.uint8)
                arguments[name] = (
                    (codes, scales, out, signed, constants)
                    if direction == "decode"
                    else (values, scale_bits, out, signed, constants)
                )
                runs[name](*arguments[name], 1)
                outputs[name] = out.view(np.uint8)
            for name, out in outputs.items():  # every path stores the same bits
                if not np.array_equal(out, outputs["portable"]):
                    raise SystemExit(f"{name} {direction} differs from the portable codec ({cmap.signed=})")
            medians = timed(runs, arguments, args.rounds)
            for name, ns in medians.items():
                kind = "signed" if signed else "unsigned"
                ratio = ns / medians["portable"]
                print(f"| {kind} | {direction} | {name} | {ns:.3f} | {ratio:.2f}x |")
    steps = step_ns(args.rounds)
    print(f"8-bit Adam block step (decode m, v; update; encode m, v): {steps['step']:.3f} ns/param")
    print(f"  of which Adam's update alone (moments already decoded): {steps['update']:.3f} ns/param")
    print(f"load average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
