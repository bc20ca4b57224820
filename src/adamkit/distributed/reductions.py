"""Sums over a whole tensor when each rank holds a shard of it (SWATS's per-tensor sums).

A kernel with reductions (:attr:`adamkit.torch.kernels.contract.FusedKernel.reductions`)
returns, per tensor, float64 sums over the elements it updated. On a shard those are
partial sums; the rule needs the whole tensor's, the same on every rank (SWATS decides
from them when a tensor switches to SGD: ranks that disagreed would diverge). So the
partial sums of all sharded tensors are added across the ranks that hold their shards, in
one ``all_reduce`` per process group, before the rule reads them.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
import torch.distributed as dist

from .shards import DTensor, ShardPlacement


def shard_groups(dparam: DTensor) -> tuple:
    """The process groups across which ``dparam``'s shards are spread (one per sharded mesh dim)."""
    mesh = dparam.device_mesh
    return tuple(mesh.get_group(i) for i, p in enumerate(dparam.placements) if isinstance(p, ShardPlacement))


def all_reduce_totals(rows: list[tuple[np.ndarray | torch.Tensor, int, DTensor]]) -> None:
    """Replace each ``totals[row]`` (partial sums over ``dparam``'s local shard) by the sums over
    the whole tensor, in place: one float64 ``all_reduce`` per process group and step. ``totals``
    is a NumPy array (the CPU's kernels) or a tensor on the device (Triton's)."""
    by_groups: dict[tuple, list[tuple[np.ndarray, int]]] = defaultdict(list)
    for totals, row, dparam in rows:
        groups = shard_groups(dparam)
        if groups:  # the device the mesh's backend reduces on: the CPU (gloo) or the current GPU
            by_groups[groups, dparam.device_mesh.device_type].append((totals, row))
    for (groups, device_type), members in by_groups.items():
        device = torch.device("cuda", torch.cuda.current_device()) if device_type == "cuda" else device_type
        partial = [totals[row] for totals, row in members]
        on_device = isinstance(partial[0], torch.Tensor)  # sums a Triton launcher keeps on the device
        if on_device:  # reduced there and written back there: the host never waits for them
            sums = torch.stack(partial).to(device=device, dtype=torch.float64)
        else:
            sums = torch.tensor(np.stack(partial), dtype=torch.float64, device=device)
        for group in groups:
            dist.all_reduce(sums, op=dist.ReduceOp.SUM, group=group)
        for (totals, row), value in zip(members, sums if on_device else sums.cpu().numpy(), strict=True):
            totals[row] = value
