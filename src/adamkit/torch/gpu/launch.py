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
from .sums import first_programs, tensor_totals

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
    """Whether a Triton kernel exists for ``kernel``'s family. A kernel with reductions runs when its
    sums feed a second pass that has one too (LAMB, ``cautious=True``: the sums stay on the device);
    sums the host decides on (SWATS's switch, :attr:`~adamkit.torch.kernels.contract.FusedKernel.finish`)
    have no Triton version."""
    if kernel.name not in FAMILIES:
        return False
    then = getattr(kernel, "then", None)
    return not getattr(kernel, "reductions", 0) or (then is not None and then.kernel.name in FAMILIES)


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
) -> torch.Tensor | None:
    """Run family ``kernel.name``'s Triton kernel over the table, on ``device``.

    A kernel with reductions (a two-pass family's first pass) returns each tensor's sums,
    ``(tensors, kernel.reductions)`` float64, as a tensor on ``device``: nothing waits for the
    kernel; :func:`launch_second` turns them into the second pass's scalars there."""
    return run(kernel, addresses, sizes, scalars, scalars, device)


def launch_second(
    second: Any,
    addresses: np.ndarray,
    sizes: np.ndarray,
    first: np.ndarray,
    totals: torch.Tensor,
    whole_sizes: np.ndarray,
    dtype: np.dtype,
    device: torch.device,
) -> None:
    """The second pass (:class:`~adamkit.torch.kernels.contract.SecondPass`) of a table whose first
    pass :func:`launch` ran: its scalars computed on ``device`` by the host's own function
    (``second.scalars``, on tensors) from the first pass's rows ``first`` (float64), the sums
    ``totals`` (on the device, after any all-reduce) and the tensors' ``whole_sizes``, so that the
    host never waits for the first pass. The switches compiled in are read from ``first``: the
    second pass's rows are the first's with the factor in one column, which is no switch."""
    first_rows, whole = per_step(device, first, np.ascontiguousarray(whole_sizes, np.int64))
    rows = second.scalars(first_rows, totals, whole, np.dtype(dtype))
    scalars = rows.to(torch.from_numpy(np.empty(0, dtype)).dtype).contiguous()
    run(second.kernel, addresses, sizes, first, scalars, device)


def run(
    kernel: Any,
    addresses: np.ndarray,
    sizes: np.ndarray,
    switches: np.ndarray,
    scalars: np.ndarray | torch.Tensor,
    device: torch.device,
) -> torch.Tensor | None:
    """:func:`launch` with the per-tensor ``scalars`` from the host or already on the device, and the
    host rows the compiled-in ``switches`` are read from (the family's ``flags``)."""
    found = family(kernel.name)
    if found is None:
        raise ValueError(f"no Triton kernel for the {kernel.name!r} family (families: {sorted(FAMILIES)})")
    triton_kernel, flags = found
    reductions = getattr(kernel, "reductions", 0)
    device_sizes, block_tensor, block_start = programs(sizes, device)
    if block_tensor.numel() == 0:  # no elements (zero-size tensors): sums of nothing
        if not reductions:
            return None
        return torch.zeros((len(sizes), reductions), dtype=torch.float64, device=device)
    on_device = not isinstance(scalars, np.ndarray)
    sent = per_step(
        device,
        addresses,
        *(() if on_device else (scalars,)),
        *((first_programs(sizes, BLOCK),) if reductions else ()),
    )
    device_addresses = sent[0]
    device_scalars = scalars if on_device else sent[1]
    double = scalars.dtype == (torch.float64 if on_device else np.float64)
    partials = ()
    if reductions:  # one row per program, each written by its program: no atomics, no zeroing
        partials = (torch.empty((block_tensor.numel(), reductions), dtype=torch.float64, device=device),)
    triton_kernel[(block_tensor.numel(),)](
        device_addresses,
        device_sizes,
        device_scalars,
        block_tensor,
        block_start,
        *partials,
        addresses.shape[1],
        scalars.shape[1],
        BLOCK=BLOCK,
        DOUBLE=double,
        enable_fp_fusion=NO_FMA,
        **flags(switches),
    )
    if not reductions:
        return None
    return tensor_totals(partials[0], sent[-1], len(sizes), enable_fp_fusion=NO_FMA)
