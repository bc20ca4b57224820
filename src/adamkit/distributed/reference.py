"""The low-bit reference path on a DTensor parameter: the rule on DTensors, the codecs on shards.

The low-bit engine's reference path (:func:`adamkit.torch.lowbit.engine.step_reference`)
decodes the moments, runs the rule and encodes them. On a DTensor parameter, the codecs
work on each rank's local shard (blocks are laid so that a shard holds whole blocks:
:mod:`.shards`), while the rule runs on DTensors: a rule that reduces over the whole
tensor (SWATS's sums) then gets the whole tensor's sums, the same on every rank.
"""

from __future__ import annotations

from typing import Any

import torch

from ..rules.spec import Rule, State
from . import is_dtensor
from .shards import ShardState, as_dtensor, shard_offset


def step_reference(
    rule: Rule, param: torch.Tensor, p_state: State, hp: dict[str, Any], precision: int
) -> None:
    """One low-bit step of DTensor ``param`` (its state ``p_state`` holds DTensors)."""
    from ..torch.lowbit.engine import decoded_state, fresh_lowbit_state, store_state
    from ..torch.lowbit.state import work_dtype

    dtype = work_dtype(param)
    weights = param.detach().to(dtype)
    grad = param.grad.to(dtype)
    local = ShardState(p_state, param, param._local_tensor)
    if not p_state:
        local.update(fresh_lowbit_state(rule, weights._local_tensor, hp, precision))
    decoded = {key: as_dtensor(value, weights) for key, value in decoded_state(rule, local, dtype).items()}
    new_param, new_state = rule.update(weights, grad, decoded, hp)
    param.detach().copy_(new_param)
    new_local = {key: _local(value, param) for key, value in new_state.items()}
    store_state(rule, local, new_local, precision, dtype, shard_offset(param))


def _local(value: Any, param: torch.Tensor) -> Any:
    """A DTensor of the rule's new state as this rank's part, placed like ``param``."""
    if not is_dtensor(value):
        return value
    if value.dim() and tuple(value.placements) != tuple(param.placements):
        value = value.redistribute(param.device_mesh, param.placements)
    return value.to_local() if value.dim() else value.full_tensor()
