"""One Triton launch for a table of tensors on one CUDA device (:mod:`adamkit.torch.gpu`).

The work is cut into programs of ``BLOCK`` elements, each within one tensor, as the CPU
engine cuts it into blocks: ``block_tensor[b]`` is program ``b``'s tensor and
``block_start[b]`` its first element there. The map and the sizes depend on the tensors'
sizes alone: they are copied to the device once and kept (:func:`programs`). What changes
from step to step (the addresses, the per-tensor scalars, the low-bit seeds: a few bytes per
tensor) goes over in one asynchronous transfer (:func:`per_step`); the kernel then reads
every parameter through its address, so a model of hundreds of tensors costs one launch and
one copy.
"""

from __future__ import annotations

import importlib
from collections import OrderedDict
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


#: Program maps kept on the devices, by device and tensor sizes (an optimizer has one per group
#: and precision; a bounded number, so that sizes that come and go cannot fill the memory).
_programs: OrderedDict[tuple, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = OrderedDict()
KEPT_PROGRAM_MAPS = 64


def programs(sizes: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(sizes, block_tensor, block_start)`` on ``device``, copied once per set of sizes: the
    map of a 64M-value tensor is 1 MB, which copying every step cost a quarter of the step."""
    key = (str(device), sizes.tobytes())
    kept = _programs.get(key)
    if kept is None:
        kept = tuple(on_device(array, device) for array in (sizes, *program_map(sizes)))
        _programs[key] = kept
        if len(_programs) > KEPT_PROGRAM_MAPS:
            _programs.popitem(last=False)
    else:
        _programs.move_to_end(key)
    return kept


def per_step(device: torch.device, *arrays: np.ndarray) -> list[torch.Tensor]:
    """Host arrays on ``device`` in one transfer: packed into one buffer (each part 8-byte
    aligned), sent from pinned memory without waiting on a CUDA device, then viewed back in
    their dtypes and shapes. torch's pinned-memory allocator keeps the buffer until the copy ran."""
    sizes = [-(-a.nbytes // 8) * 8 for a in arrays]
    packed = np.zeros(sum(sizes), np.uint8)
    start = 0
    for array, size in zip(arrays, sizes, strict=True):
        packed[start : start + array.nbytes] = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
        start += size
    host = torch.from_numpy(packed)
    if torch.device(device).type == "cuda":
        host = host.pin_memory()
    buffer = host.to(device, non_blocking=True)
    views, start = [], 0
    for array, size in zip(arrays, sizes, strict=True):
        dtype = torch.from_numpy(np.empty(0, array.dtype)).dtype
        views.append(buffer[start : start + array.nbytes].view(dtype).reshape(array.shape))
        start += size
    return views


def launch(
    kernel: Any, addresses: np.ndarray, sizes: np.ndarray, scalars: np.ndarray, device: torch.device
) -> None:
    """Run family ``kernel.name``'s Triton kernel over the table, on ``device``."""
    found = family(kernel.name)
    if found is None:
        raise ValueError(f"no Triton kernel for the {kernel.name!r} family (families: {sorted(FAMILIES)})")
    triton_kernel, flags = found
    device_sizes, block_tensor, block_start = programs(sizes, device)
    if block_tensor.numel() == 0:
        return
    device_addresses, device_scalars = per_step(device, addresses, scalars)
    triton_kernel[(block_tensor.numel(),)](
        device_addresses,
        device_sizes,
        device_scalars,
        block_tensor,
        block_start,
        addresses.shape[1],
        scalars.shape[1],
        BLOCK=BLOCK,
        DOUBLE=scalars.dtype == np.float64,
        enable_fp_fusion=NO_FMA,
        **flags(scalars),
    )
