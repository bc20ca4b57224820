"""DTensor parameters (FSDP2's ``fully_shard``) as the fused kernels see them: their local shards.

A DTensor parameter is a tensor subclass: the kernels, which read memory by address, cannot
take it, and running the rule with DTensor operations is correct but slow (every operation
dispatches through DTensor). Everything the optimizer does per element is local, so each
rank updates its own shard with the kernels:

* :class:`Shard` is the local view of one DTensor parameter: ``param``, a plain tensor on
  the shard's memory (persistent, so the engines' :mod:`adamkit.torch.fit` records hold from
  step to step) whose ``.grad`` is the local shard of the DTensor gradient during a step;
  and ``state``, a :class:`ShardState` over the optimizer's state.
* The optimizer's state stays DTensors sharded like their parameter (so that
  ``torch.distributed.checkpoint`` and ``get_optimizer_state_dict`` save, gather and reshard
  it); :class:`ShardState` shows the engines their local tensors and wraps what the engines
  store back into DTensors. Scalar state (``step``) is a plain 0-dim tensor, as torch.optim
  keeps it under FSDP2.

Low-bit state on shards (``state_bits`` 16 and 8) is laid so that it does not depend on the
number of ranks (:func:`blocks_align`, :func:`flat_offset`):

* 8 bits: a block of 256 values never straddles two shards. FSDP2 shards dimension 0,
  so shard boundaries fall between rows; when a row holds a multiple of 256 values, the
  blocks of the flattened tensor never straddle a row, and each shard holds whole blocks,
  the same blocks as one process would. The absmax is stored as a DTensor of shape
  ``(rows, row_size / 256)``, sharded on dimension 0 like the parameter, so DCP reshards
  codes and scales together. A parameter sharded otherwise (rows not a multiple of 256,
  1-D tensors, tensor parallel ``Shard(1)``) keeps float32 moments, as small tensors do:
  decided by its global shape and placements, never by the number of ranks.
* 16 bits: the stochastic rounding of element ``i`` depends on ``i``; a shard's elements
  use their index in the whole tensor (the seed shifted by the shard's flat offset), so
  one process and any number of ranks store the same bits.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, MutableMapping
from typing import Any

import torch

from . import FLAT_OFFSET, is_dtensor

try:  # torch.distributed is optional in torch builds (and DTensor needs torch >= 2.4)
    from torch.distributed.tensor import DTensor, Replicate
    from torch.distributed.tensor import Shard as ShardPlacement
    from torch.distributed.tensor._dtensor_spec import DTensorSpec, TensorMeta
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset
except ImportError:  # pragma: no cover - torch without distributed
    DTensor = None

BLOCK = 256  # values per 8-bit absmax (adamkit.torch.lowbit.codecs.BLOCK; imported lazily there)
ABSMAX = "_absmax"


def row_sharded(param: torch.Tensor) -> bool:
    """Whether every mesh dimension either replicates ``param`` or shards its dimension 0 (FSDP2,
    HSDP): then each rank's shard is a run of whole rows, a contiguous range of the flat tensor."""
    return all(
        isinstance(p, Replicate) or type(p) is ShardPlacement and p.dim == 0 for p in param.placements
    )


def blocks_align(param: torch.Tensor) -> bool:
    """Whether 8-bit blocks of 256 values can be laid on DTensor ``param`` independently of the
    number of ranks: replicated, or row-sharded with rows of a multiple of 256 values."""
    if not any(isinstance(p, ShardPlacement) for p in param.placements):
        return True
    return row_sharded(param) and param.dim() >= 1 and param.shape[0] > 0 and row_size(param) % BLOCK == 0


def row_size(param: torch.Tensor) -> int:
    return param.numel() // param.shape[0] if param.dim() and param.shape[0] else 1


def wrap(local: torch.Tensor, like: DTensor, shape: tuple[int, ...] | None = None) -> DTensor:
    """``local`` (this rank's part) as a DTensor placed like ``like``, of global ``shape``
    (default ``like``'s), without communication or copy."""
    shape = tuple(like.shape) if shape is None else shape
    stride = tuple(torch.empty(shape, device="meta").stride())
    meta = TensorMeta(torch.Size(shape), stride, local.dtype)
    spec = DTensorSpec(like.device_mesh, tuple(like.placements), meta)
    # DTensor.from_local would wrap a view of ``local`` (a new object at each call); the
    # constructor keeps ``local`` itself as the local tensor, so the engines' records hold.
    return DTensor(local, spec, requires_grad=False)


class ShardState(MutableMapping):
    """One parameter's optimizer state (a dict of DTensors and scalars) as its local tensors.

    Reading gives each DTensor's local tensor; writing a tensor shaped like the local shard
    wraps it into a DTensor placed like the parameter, an 8-bit ``*_absmax`` into a DTensor of
    shape ``(rows, row_size / 256)`` (see the module's doc), anything else (0-dim scalars,
    numbers) is stored as it is.
    """

    def __init__(self, real: dict, param: DTensor, local: torch.Tensor) -> None:
        self.real = real
        self.like = param  # a weak stand-in is not needed: the state lives as long as its parameter
        self.local_shape = local.shape
        sharded = any(isinstance(p, ShardPlacement) for p in param.placements)
        self.rows = local.shape[0] if sharded and local.dim() else None
        self.global_rows = param.shape[0] if sharded and param.dim() else None

    def __getitem__(self, key: str) -> Any:
        value = self.real[key]
        return value._local_tensor if is_dtensor(value) else value

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, torch.Tensor) and not is_dtensor(value) and value.dim() > 0:
            if value.shape == self.local_shape:
                value = wrap(value, self.like)
            elif key.endswith(ABSMAX):
                value = self.wrap_absmax(value)
        self.real[key] = value

    def wrap_absmax(self, absmax: torch.Tensor) -> DTensor:
        if self.rows is None:  # replicated: the local tensor is the whole tensor
            return wrap(absmax, self.like, tuple(absmax.shape))
        if not blocks_align(self.like):
            raise ValueError(
                f"8-bit state of a DTensor of shape {tuple(self.like.shape)} placed {self.like.placements}: "
                f"its rows of {row_size(self.like)} values are not whole blocks of {BLOCK} (must be "
                "a multiple of 256, sharded on dimension 0 only)"
            )
        per_row = row_size(self.like) // BLOCK
        return wrap(absmax.view(self.rows, per_row), self.like, (self.global_rows, per_row))

    def __delitem__(self, key: str) -> None:
        del self.real[key]

    def __contains__(self, key: object) -> bool:
        return key in self.real

    def __iter__(self) -> Iterator[str]:
        return iter(self.real)

    def __len__(self) -> int:
        return len(self.real)


class Shard:
    """The local view of a DTensor parameter: a plain ``param`` on its shard and its ``state``."""

    __slots__ = ("source", "param", "state")

    def __init__(self, dparam: DTensor, real_state: dict) -> None:
        local = dparam._local_tensor
        self.source = local
        self.param = local.detach()  # a leaf of its own: its .grad is ours to set
        setattr(self.param, FLAT_OFFSET, shard_offset(dparam))
        self.state = ShardState(real_state, dparam, local)

    def holds(self, dparam: DTensor, real_state: dict) -> bool:
        local = dparam._local_tensor
        return (
            local is self.source
            and self.state.real is real_state
            and self.param.data_ptr() == local.data_ptr()
            and self.param.shape == local.shape
        )


def shard_offset(dparam: DTensor) -> int:
    """The flat index in the whole tensor of this rank's first local element (row-sharded
    tensors; 0 for others, whose shards are not one contiguous range)."""
    if not row_sharded(dparam) or dparam.dim() == 0:
        return 0
    _, offset = compute_local_shape_and_global_offset(dparam.shape, dparam.device_mesh, dparam.placements)
    return offset[0] * row_size(dparam)


class Shards:
    """An engine's local views of its DTensor parameters, kept from step to step."""

    def __init__(self) -> None:
        # by id(dparam): a weak reference to it (whose death drops the entry) and its view
        self.views: dict[int, tuple[weakref.ref, Shard]] = {}

    def get(self, dparam: DTensor) -> Shard | None:
        entry = self.views.get(id(dparam))
        return entry[1] if entry is not None and entry[0]() is dparam else None

    def put(self, dparam: DTensor, view: Shard) -> Shard:
        key, views = id(dparam), self.views
        views[key] = (weakref.ref(dparam, lambda _, key=key: views.pop(key, None)), view)
        return view

    def local(self, dparam: DTensor, real_state: dict) -> Shard | None:
        """``dparam``'s :class:`Shard` with its local gradient set, or None if its gradient is not
        placed like it (the engines then run the rule on the DTensors)."""
        grad = dparam.grad
        if not is_dtensor(grad) or grad.placements != dparam.placements or grad.shape != dparam.shape:
            return None
        view = self.get(dparam)
        if view is None or not view.holds(dparam, real_state):
            view = self.put(dparam, Shard(dparam, real_state))
        local_grad = grad._local_tensor
        if local_grad.shape != view.param.shape or local_grad.dtype != view.param.dtype:
            return None
        view.param.grad = local_grad
        return view

    def known(self, dparam: torch.Tensor) -> torch.Tensor:
        """The local ``param`` standing for ``dparam`` in the engines' records (``dparam`` itself
        for a plain tensor or one never seen)."""
        view = self.get(dparam) if is_dtensor(dparam) else None
        return dparam if view is None else view.param


def release(views: list[Shard]) -> None:
    """Drop the local gradients after a step (they would keep the DTensor gradients' memory alive)."""
    for view in views:
        view.param.grad = None


def as_dtensor(value: Any, like: DTensor) -> Any:
    """A local tensor shaped like ``like``'s shard as a DTensor placed like it; else ``value``."""
    if isinstance(value, torch.Tensor) and not is_dtensor(value) and value.shape == like._local_tensor.shape:
        return wrap(value, like)
    return value


def convert_on_shard(dparam: DTensor, p_state: dict, saved: dict, bits: int, convert: Any) -> None:
    """Loading a checkpoint: ``convert`` (:func:`adamkit.torch.lowbit.convert.convert_loaded`) puts
    the loaded moments at this optimizer's precision on this rank's shard: it decides precision by
    the DTensor ``dparam`` (its global shape), reads the saved local tensors, writes DTensors."""
    local_saved = {k: v._local_tensor if is_dtensor(v) else v for k, v in saved.items()}
    convert(dparam, ShardState(p_state, dparam, dparam._local_tensor), local_saved, bits)
