"""What torch.distributed needs of adamkit's optimizers: DTensor shards, DCP state, resharding.

torch.distributed does the communication; adamkit's optimizers only have to update what
each rank holds, and keep their state in a form torch.distributed can save and reshard.

* **FSDP2 and DTensor** (``torch.distributed.fsdp.fully_shard``): the fused engines run
  their kernels on each rank's local shard (:mod:`.shards`), at 32, 16 and 8 bits; the
  state is DTensors sharded like the parameters, so ``torch.distributed.checkpoint`` (DCP)
  and ``torch.distributed.checkpoint.state_dict.get_optimizer_state_dict`` /
  ``set_optimizer_state_dict`` save it, gather it into a full state dict, and load it on
  any number of ranks. Low-bit state is laid out by the global shape, never by the number
  of ranks (:mod:`.shards` says how). Sums over a whole tensor (SWATS's switch) are added
  across the shards (:mod:`.reductions`). The low-bit reference path runs the rule on the
  DTensors and the codecs on the local shards (:mod:`.reference`).
* **DCP checkpoints across ``state_bits``** (8-bit moments have keys of their own):
  ``dcp.load(..., planner=StateBitsLoadPlanner())`` converts them on each rank's shard
  (:mod:`.checkpoint`).
* **DDP and ZeroRedundancyOptimizer** need nothing of us: every rank holds whole tensors.

Nothing here imports ``torch.distributed.tensor`` (a second and a half) until a DTensor is
seen: :func:`is_dtensor` is true only once DTensor has been imported by someone.

Example (``torchrun --nproc-per-node 2``; ``examples/fsdp2_train.py`` in full):

    model = TransformerEncoder(...)
    for layer in model.layers:
        fully_shard(layer)
    fully_shard(model)
    opt = adamkit.torch.AdamW(model.parameters(), lr=1e-3, state_bits=8)
    ...
    dcp.save({"optim": get_optimizer_state_dict(model, opt)}, checkpoint_id=path)
"""

from __future__ import annotations

import sys
from typing import Any


def is_dtensor(t: Any) -> bool:
    """Whether ``t`` is a ``torch.distributed.tensor.DTensor`` (cheap: no import)."""
    module = sys.modules.get("torch.distributed.tensor")
    return module is not None and isinstance(t, module.DTensor)


#: the attribute of a shard's local parameter (:class:`.shards.Shard`) holding its flat offset
FLAT_OFFSET = "_adamkit_flat_offset"


def flat_offset(t: Any) -> int:
    """The index in the whole tensor of the first element of a shard's local parameter (0 for
    any other tensor): 16-bit stochastic rounding shifts its seed by it (:mod:`.shards`)."""
    return getattr(t, FLAT_OFFSET, 0)


__all__ = ["flat_offset", "is_dtensor"]
