"""Loading a DCP checkpoint into an optimizer of another ``state_bits``: :class:`StateBitsLoadPlanner`.

``torch.distributed.checkpoint.load`` fills the keys the loading state dict has. An optimizer's
moments are stored under keys that say their precision (:mod:`adamkit.torch.lowbit.codecs`):
``exp_avg`` (32 or 16 bits) or ``exp_avg_codes`` and ``exp_avg_absmax`` (8 bits). So a checkpoint
saved at 8 bits has none of the keys an optimizer at 32 or 16 bits asks for, nor the other way
round, and DCP stops with ``Missing key in checkpoint state_dict``. Between 32 and 16 bits the
key is the same and DCP's own cast (``copy_`` into the loading tensor: bfloat16 rounded to
nearest) is already the conversion ``load_state_dict`` makes.

:class:`StateBitsLoadPlanner` is DCP's default planner that, for every moment stored under other
keys in the checkpoint than in the loading state dict, asks for the checkpoint's keys instead,
and once they are read converts them on this rank's shard into the loading tensors, in place:
afterwards the state dict holds what the loading optimizer keeps, at its precision, and
``set_optimizer_state_dict`` (or ``set_state_dict``) loads it as usual. The conversion is the
one ``load_state_dict`` makes in one process (:func:`adamkit.torch.lowbit.convert.convert_loaded`),
bit for bit: 8-bit codes are decoded with their own block's scale, then kept as float32 (or the
parameter's dtype), rounded to nearest bfloat16, or quantized in blocks of 256 (a shard holds
whole blocks: :mod:`.shards`); 8 to 8 bits keeps the saved codes and scales. The loading side
may be torch.optim's (an adamkit 8-bit checkpoint into ``torch.optim.AdamW``: float32 moments)
and the checkpoint torch.optim's (into adamkit at 8 bits). A group option the checkpoint lacks
(torch.optim's has no ``state_bits`` nor ``cautious``) keeps the loading optimizer's value.
What cannot be converted (an 8-bit moment into a parameter not sharded by rows, a checkpoint
whose keys or shapes do not fit) is refused with a ``ValueError`` before anything is read.

Example (on every rank; ``opt`` may have any ``state_bits``, the checkpoint any other):

    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict
    from adamkit.distributed.checkpoint import StateBitsLoadPlanner

    model_state, optim_state = get_state_dict(model, opt)
    state = {"model": model_state, "optim": optim_state}
    dcp.load(state, checkpoint_id=path, planner=StateBitsLoadPlanner())
    set_state_dict(model, opt, model_state_dict=state["model"], optim_state_dict=state["optim"])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch.distributed.checkpoint import DefaultLoadPlanner
from torch.distributed.checkpoint.metadata import Metadata, TensorStorageMetadata

from ..torch.lowbit.codecs import ABSMAX, BLOCK, CODES, dequantize, quantize, to_bfloat16
from ..torch.lowbit.state import ALL_MOMENTS, SIGNED_MOMENTS
from . import is_dtensor
from .shards import row_sharded, shard_offset, wrap


@dataclass
class Moment:
    """One parameter's moment that the checkpoint stores under other keys than the loading state."""

    name: str  # the moment (``exp_avg``)
    where: str  # the flat key of its parameter's state (``optim.state.0.weight``)
    state: dict  # that parameter's state in the loading state dict (nested)
    loading: dict[str, torch.Tensor]  # the loading keys and their tensors, filled in place at the end
    saved: dict[str, torch.Tensor] = field(default_factory=dict)  # the checkpoint's keys: read into these
    pending: int = 0  # read items of ``saved`` not yet committed

    @property
    def like(self) -> torch.Tensor:
        """The loading tensor shaped (and placed) like the parameter."""
        return self.loading.get(self.name, self.loading.get(self.name + CODES))

    def swap_in(self) -> None:
        """The loading state asks for the checkpoint's keys (its own come back in :meth:`finish`)."""
        for key in self.loading:
            del self.state[key]
        self.state.update(self.saved)

    def finish(self) -> None:
        """Convert what was read into the loading tensors, on this rank's shard, and put them back."""
        like, signed = self.like, self.name in SIGNED_MOMENTS
        offset = shard_offset(like) if is_dtensor(like) else 0
        codes_key, absmax_key = self.name + CODES, self.name + ABSMAX
        if codes_key in self.saved:
            codes, absmax = _local(self.saved[codes_key]), self.saved[absmax_key].reshape(-1)
            if codes_key in self.loading:  # 8 to 8 bits (scales laid out otherwise): the saved bits
                _local(self.loading[codes_key]).copy_(codes)
                first = offset // BLOCK
                target = _local(self.loading[absmax_key]).view(-1)
                target.copy_(absmax[first : first + target.numel()])
                self._restore()
                return
            value = _decode(codes, absmax, offset, signed)
        else:
            value = _local(self.saved[self.name])
        if codes_key in self.loading:  # to 8 bits: blocks of this shard (whole blocks: .shards)
            new_codes, new_absmax = quantize(value, signed)
            _local(self.loading[codes_key]).copy_(new_codes)
            _local(self.loading[absmax_key]).view(-1).copy_(new_absmax)
        else:
            target = _local(self.loading[self.name])
            # to 16 bits: rounded to nearest, as load_state_dict's conversion (no step seeds it)
            target.copy_(to_bfloat16(value) if target.dtype == torch.bfloat16 else value.to(target.dtype))
        self._restore()

    def _restore(self) -> None:
        for key in self.saved:
            del self.state[key]
        self.state.update(self.loading)


class StateBitsLoadPlanner(DefaultLoadPlanner):
    """DCP's default load planner that converts optimizer moments saved at another ``state_bits``.

    Pass it to ``torch.distributed.checkpoint.load(..., planner=StateBitsLoadPlanner())``; the
    state dict it fills is then loaded as usual (``set_optimizer_state_dict``). Everything else
    (model weights, scalars, moments saved as the loading optimizer keeps them) loads as with
    ``DefaultLoadPlanner``, whose arguments it takes.
    """

    def set_up_planner(
        self, state_dict: dict[str, Any], metadata: Metadata | None = None, is_coordinator: bool = False
    ) -> None:
        super().set_up_planner(state_dict, metadata, is_coordinator)
        if metadata is None:  # pragma: no cover - DCP always passes the checkpoint's metadata
            raise AssertionError("StateBitsLoadPlanner needs the checkpoint's metadata")
        moments = self._moments_to_convert(metadata)  # raises ValueError before anything changes
        # a group option the checkpoint lacks (torch.optim's lacks state_bits and cautious; an older
        # adamkit's, the newer options) keeps the loading optimizer's value, as load_state_dict fills
        # missing options: taken out of the state dict while DCP plans its reads, put back after
        kept = [
            (path, self.state_dict[flat])
            for flat, path in self.mappings.items()
            if len(path) >= 3 and path[-3] == "param_groups" and flat not in metadata.state_dict_metadata
        ]
        for path, _ in kept:
            del _container(self.original_state_dict, path[:-1])[path[-1]]
        for moment in moments:
            moment.swap_in()
        super().set_up_planner(state_dict, metadata, is_coordinator)  # flattened again, with the swaps
        for path, value in kept:
            _container(self.original_state_dict, path[:-1])[path[-1]] = value
        self._by_key = {f"{m.where}.{key}": m for m in moments for key in m.saved}
        self._moments = moments

    def finish_plan(self, new_plan: Any) -> Any:
        plan = super().finish_plan(new_plan)
        for item in plan.items:
            moment = self._by_key.get(item.dest_index.fqn)
            if moment is not None:
                moment.pending += 1
        for moment in self._moments:
            if moment.pending == 0:  # nothing of it on this rank (an empty shard): nothing to read
                moment.finish()
        return plan

    def commit_tensor(self, read_item: Any, tensor: torch.Tensor) -> None:
        super().commit_tensor(read_item, tensor)
        moment = self._by_key.get(read_item.dest_index.fqn)
        if moment is not None:
            moment.pending -= 1
            if moment.pending == 0:
                moment.finish()

    def _moments_to_convert(self, metadata: Metadata) -> list[Moment]:
        """The loading state's moments the checkpoint stores otherwise, checked and with their
        read buffers (a ``ValueError`` for the first that cannot be converted)."""
        found: dict[tuple, Moment] = {}
        for flat, path in self.mappings.items():
            key = path[-1]
            if len(path) < 3 or path[-3] != "state" or not isinstance(key, str):
                continue
            name = key.removesuffix(CODES).removesuffix(ABSMAX)
            if name not in ALL_MOMENTS or not isinstance(self.state_dict[flat], torch.Tensor):
                continue
            state = _container(self.original_state_dict, path[:-1])
            where = flat.removesuffix("." + key)
            moment = found.setdefault((where, name), Moment(name, where, state, {}))
            moment.loading[key] = self.state_dict[flat]
        moments = []
        for moment in found.values():
            saved = {
                key: metadata.state_dict_metadata[f"{moment.where}.{key}"]
                for key in (moment.name, moment.name + CODES, moment.name + ABSMAX)
                if f"{moment.where}.{key}" in metadata.state_dict_metadata
            }
            if not saved or not _differs(moment, saved):
                continue  # the same keys (DCP loads and casts them), or none (DCP reports it)
            _check(moment, saved)
            for key, md in saved.items():
                like, dtype = moment.like, md.properties.dtype
                if key.endswith(ABSMAX):  # read whole on every rank (1/256 of the values), sliced at the end
                    moment.saved[key] = torch.empty(md.size, dtype=dtype, device=_local(like).device)
                elif is_dtensor(like):  # placed like the loading moment: this rank reads its shard
                    moment.saved[key] = wrap(torch.empty_like(_local(like), dtype=dtype), like)
                else:
                    moment.saved[key] = torch.empty_like(like, dtype=dtype)
            moments.append(moment)
        return moments


def _differs(moment: Moment, saved: dict[str, Any]) -> bool:
    """Whether the checkpoint stores ``moment`` under other keys, or its 8-bit scales in another
    layout (one process's ``(blocks,)`` against FSDP2's ``(rows, row_size / 256)``)."""
    if set(saved) != set(moment.loading):
        return True
    return any(
        isinstance(md, TensorStorageMetadata) and tuple(md.size) != tuple(moment.loading[key].shape)
        for key, md in saved.items()
    )


def _bits(keys: Any, dtype: torch.dtype | None) -> int:
    return 8 if any(k.endswith(CODES) for k in keys) else 16 if dtype == torch.bfloat16 else 32


def _check(moment: Moment, saved: dict[str, Any]) -> None:
    """Raise ``ValueError`` unless ``moment`` can be converted from the checkpoint's ``saved`` entries."""
    like, name = moment.like, moment.name
    plain = saved.get(name)
    saved_bits = _bits(saved, plain.properties.dtype if isinstance(plain, TensorStorageMetadata) else None)
    loading_bits = _bits(moment.loading, moment.loading[name].dtype if name in moment.loading else None)
    what = (
        f"{moment.where}.{name}: saved at state_bits={saved_bits} as {sorted(saved)}, "
        f"loading at state_bits={loading_bits} as {sorted(moment.loading)}"
    )
    if like is None or set(moment.loading) not in ({name}, {name + CODES, name + ABSMAX}):
        raise ValueError(f"StateBitsLoadPlanner: {what}: the loading state holds an incomplete moment")
    if set(saved) not in ({name}, {name + CODES, name + ABSMAX}):
        raise ValueError(f"StateBitsLoadPlanner: {what}: the checkpoint holds an incomplete moment")
    for key, md in saved.items():
        if not isinstance(md, TensorStorageMetadata):
            raise ValueError(f"StateBitsLoadPlanner: {what}: {key!r} is not a tensor in the checkpoint")
    shape = tuple(like.shape)
    values = saved.get(name, saved.get(name + CODES))
    if tuple(values.size) != shape:
        raise ValueError(
            f"StateBitsLoadPlanner: {what}: the checkpoint's shape {tuple(values.size)} is not the "
            f"parameter's {shape}"
        )
    if saved_bits == 8:
        blocks, got = -(-like.numel() // BLOCK), saved[name + ABSMAX].size.numel()
        if saved[name + CODES].properties.dtype != torch.uint8 or got != blocks:
            raise ValueError(
                f"StateBitsLoadPlanner: {what}: not 8-bit state of {like.numel()} values "
                f"(uint8 codes and {blocks} scales; the checkpoint has {got})"
            )
        if is_dtensor(like) and not row_sharded(like):
            raise ValueError(
                f"StateBitsLoadPlanner: {what}: 8-bit moments are converted only for parameters "
                f"whole or sharded by rows (FSDP2), this one is placed {tuple(like.placements)}: load the "
                f"checkpoint where the parameter is whole or sharded by rows, and save one there at "
                f"state_bits={loading_bits}"
            )


def _decode(codes: torch.Tensor, absmax: torch.Tensor, offset: int, signed: bool) -> torch.Tensor:
    """8-bit ``codes`` (elements ``offset:`` of the flat tensor) decoded with the whole tensor's
    flat scales ``absmax``: float32, as :func:`.codecs.dequantize` gives the whole tensor."""
    n, first, pad = codes.numel(), offset // BLOCK, offset % BLOCK
    flat = codes.reshape(-1)
    if pad:  # a shard starting inside a block (a parameter whose rows are not whole blocks)
        flat = torch.cat([flat.new_zeros(pad), flat])
    values = dequantize(flat, absmax[first : -(-(offset + n) // BLOCK)], signed)
    return values[pad:].view(codes.shape)


def _local(t: torch.Tensor) -> torch.Tensor:
    """This rank's part of ``t`` (the tensor itself when it is not a DTensor)."""
    return t._local_tensor if is_dtensor(t) else t


def _container(root: dict, path: tuple) -> Any:
    for part in path:
        root = root[part]
    return root


__all__ = ["StateBitsLoadPlanner"]
