"""Compile the fused CPU kernels for this machine now, ahead of their first use.

A kernel compiles on the first step that needs it (Adam's with the launchers about 4 s,
8-bit Adam's about 15 s, another family's 8-bit kernel about 8 s on a 2-core machine);
every later process loads it in milliseconds (adamkit/torch/kernels/machine_code.py).
Compile them ahead wherever a first step should be quick: while building a container
image, into a cluster's shared cache (point NUMBA_CACHE_DIR at it), before timing
anything. --list only tells what is compiled, and where.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .arguments import listed_names

DTYPES = ("float32", "float64")
STATE_BITS = ("8", "16")


@dataclass(frozen=True)
class Kernel:
    """One compiled C function: a launcher, or a family's entry point for one dtype."""

    name: str
    function: Callable
    signature: object  # a numba signature
    parallel: bool = False

    def path(self) -> Path:
        from ..torch.kernels import machine_code

        return machine_code.cache_file(self.function, self.signature, self.parallel)

    def compile(self) -> None:
        from ..torch.kernels import machine_code

        machine_code.compiled(self.function, self.signature, self.parallel)


def family_names() -> list[str]:
    from ..torch.fused import KERNELS

    return list(KERNELS)


def kernels(optimizers: Sequence[str], dtypes: Sequence[str], state_bits: Sequence[str]) -> list[Kernel]:
    """The launchers, then each entry point the optimizers run for the dtypes (each once: AdamW
    runs Adam's, SWATS's SGD phase SGD's), then the low-bit entries of each family that has them
    (8-bit Adam: with and without AMSGrad; SWATS has none)."""
    from ..torch.fused import KERNELS, imported
    from ..torch.kernels import jit
    from ..torch.lowbit import adam_kernels as lowbit
    from ..torch.lowbit.engine import has_low_bit_kernels
    from ..torch.lowbit.fused import family_entries

    found = [
        Kernel(f"launcher ({kind})", jit.run_blocks, jit.LAUNCHER_SIGNATURE, kind == "parallel")
        for kind in ("serial", "parallel")
    ]
    seen = set()
    for name in optimizers:
        for kernel in imported(KERNELS[name]).phases:
            for dtype in dtypes:
                if (kernel.entry, dtype) not in seen:
                    seen.add((kernel.entry, dtype))
                    signature = jit.entry_signature(np.dtype(dtype))
                    found.append(Kernel(f"{kernel.name} {dtype}", kernel.entry, signature))
    signature = jit.entry_signature(np.dtype(np.float32))
    families = {kernel.name: kernel for kernel in map(imported, (KERNELS[name] for name in optimizers))}
    for name, kernel in families.items():
        if not has_low_bit_kernels(kernel):
            continue
        if name == "adam":
            variants = {
                "8": [("", lowbit.adam8_entry), (", amsgrad", lowbit.adam8_amsgrad_entry)],
                "16": [("", lowbit.adam16_entry)],
            }
        else:
            entries = family_entries(kernel)
            variants = {bits: [("", entries[int(bits)])] for bits in STATE_BITS}
        for bits in state_bits:
            found += [Kernel(f"{name} {bits}-bit state{v}", entry, signature) for v, entry in variants[bits]]
    return found


def state_bits(text: str) -> list[str]:
    """``--state-bits``: a comma-separated list of 8 and 16, or ``none``."""
    return [] if text.strip().lower() == "none" else listed_names(text, STATE_BITS, "state size")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--optimizers",
        type=lambda text: listed_names(text, family_names()),
        default=None,
        help="comma-separated, of: " + ", ".join(family_names()) + " (default: all)",
    )
    parser.add_argument(
        "--dtypes",
        type=lambda text: listed_names(text, DTYPES, "dtype"),
        default=["float32"],
        help="parameter dtypes, comma-separated, of: float32, float64 (default: float32)",
    )
    parser.add_argument(
        "--state-bits",
        type=state_bits,
        default=list(STATE_BITS),
        help="low-bit kernels of the optimizers: 8, 16, 8,16 (the default) or none",
    )
    parser.add_argument("--list", action="store_true", help="only tell which kernels are compiled")


def run(args: argparse.Namespace) -> int:
    from ..torch.kernels.machine_code import cache_folder

    found = kernels(args.optimizers or family_names(), args.dtypes, args.state_bits)
    width = max(len(kernel.name) for kernel in found)
    unsaved = []
    for kernel in found:
        if kernel.path().exists():
            print(f"{kernel.name:<{width}}  compiled", flush=True)
        elif args.list:
            print(f"{kernel.name:<{width}}  not compiled", flush=True)
        else:
            print(f"{kernel.name:<{width}}  compiling ... ", end="", flush=True)
            start = time.perf_counter()
            kernel.compile()
            saved = kernel.path().exists()
            print(f"{time.perf_counter() - start:.1f} s" + ("" if saved else " (not saved)"), flush=True)
            if not saved:
                unsaved.append(kernel.name)
    print(f"cache: {cache_folder()}")
    if unsaved:
        print(f"could not write {len(unsaved)} kernels to the cache folder: is it writable?")
        return 1
    return 0
