"""One Triton launch for a table of tensors on one CUDA device (:mod:`adamkit.torch.gpu`).

The work is cut into programs of ``BLOCK`` elements, each within one tensor, as the CPU
engine cuts it into blocks: ``block_tensor[b]`` is program ``b``'s tensor and
``block_start[b]`` its first element there. The table and this map are copied to the
device once per step (a few bytes per tensor); the kernel then reads every parameter
through its address, so a model of hundreds of tensors costs one launch.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import torch

from . import FAMILIES

BLOCK = 1024  # elements per Triton program
#: Every multiply and add rounded on its own, as on the CPU (numba does not fuse them): the
#: kernels then perform the CPU kernels' IEEE operations, and their square roots and divisions
#: are rounded to nearest too (``sqrt_rn``, ``div_rn``). The kernels are memory-bound: FMAs
#: would save nothing measurable.
NO_FMA = False


def family(name: str) -> tuple[Any, Any] | None:
    """``(kernel, flags)`` of family ``name``'s Triton kernel, or None where it has none."""
    target = FAMILIES.get(name)
    if target is None:
        return None
    module_name, kernel, flags = target.split(":")
    module = importlib.import_module(module_name)
    return getattr(module, kernel), getattr(module, flags)


def runs(kernel: Any) -> bool:
    """Whether a Triton kernel exists for ``kernel``'s family (no family with reductions has one yet)."""
    return kernel.name in FAMILIES and not getattr(kernel, "reductions", 0)


def program_map(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(block_tensor, block_start)`` for tensors of ``sizes`` elements, ``BLOCK`` per program."""
    blocks = (sizes + BLOCK - 1) // BLOCK
    block_tensor = np.repeat(np.arange(len(sizes), dtype=np.int64), blocks)
    first = np.cumsum(blocks) - blocks
    block_start = (np.arange(int(blocks.sum()), dtype=np.int64) - first[block_tensor]) * BLOCK
    return block_tensor, block_start


def on_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A host array copied to ``device`` (a table, a program map: a few bytes per tensor)."""
    return torch.from_numpy(np.ascontiguousarray(array)).to(device)


def launch(
    kernel: Any, addresses: np.ndarray, sizes: np.ndarray, scalars: np.ndarray, device: torch.device
) -> None:
    """Run family ``kernel.name``'s Triton kernel over the table, on ``device``."""
    found = family(kernel.name)
    if found is None:
        raise ValueError(f"no Triton kernel for the {kernel.name!r} family (families: {sorted(FAMILIES)})")
    triton_kernel, flags = found
    block_tensor, block_start = program_map(sizes)
    if block_tensor.size == 0:
        return
    triton_kernel[(block_tensor.size,)](
        *(on_device(array, device) for array in (addresses, sizes, scalars, block_tensor, block_start)),
        addresses.shape[1],
        scalars.shape[1],
        BLOCK=BLOCK,
        DOUBLE=scalars.dtype == np.float64,
        enable_fp_fusion=NO_FMA,
        **flags(scalars),
    )
