"""The low-bit engine's step replayed: :mod:`adamkit.torch.replay` for groups with ``state_bits`` 16 or 8.

A group with 8-bit state splits each step: tensors too small for 8-bit blocks (biases) keep
32-bit moments and go to the fp32 engine (or, for Adam on the CPU, into the 8-bit kernels' own
call: :func:`.adam_kernels.float32_moments`), the rest to the low-bit kernels, each classified,
checked and looked up per tensor (about 10 us a tensor for a tiny GPT-2). After a step that ran
every tensor either way (none on the reference path, no DTensor shards, no moment created in
the step), :class:`LowBitReplay` keeps the split, the low-bit records and the kernels' tables.
The next step replays them if the group holds the same parameters at the same ``state_bits``,
every 32-bit one has a dense gradient, the state arrays are those of today's flags, and every
low-bit tensor passes its record's checks with the same step count
(:class:`adamkit.torch.replay.ReplayChecks`). Then only the gradients' addresses, the scalar row and
the per-array extras (16-bit rounding seeds, from the new step) are written into the kept
arrays; the 32-bit tensors take the fp32 engine, which replays its own step.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ...rules.spec import Rule
from ..fit import from_key
from ..fused import bump_versions
from ..replay import ReplayChecks, keeps, scalar_names
from .fused import Kept, LowBitKernels, bound_table


class LowBitReplay:
    """A low-bit group's last step, to run again (see the module's doc)."""

    __slots__ = ("params", "bits", "full", "fused", "kept", "layout", "names", "checks", "launches")

    def __init__(
        self, params: list, bits: int, full: list, fused: list, kept: Kept, family: LowBitKernels, hp: dict
    ) -> None:
        self.params, self.bits = tuple(params), bits
        self.full, self.fused, self.kept = full, fused, kept
        #: per table, its launch (the kernel entry is fixed by the state names, checked each step)
        self.launches = [bound_table(device, family, bits, hp, arrays) for device, _, *arrays in kept.tables]
        self.layout = kept.records[0].layout
        self.names = scalar_names(self.layout)
        self.checks = ReplayChecks(kept.records)

    @staticmethod
    def keeps(kept: Kept | None) -> bool:
        """Whether a step's :class:`.fused.Kept` can be replayed (:func:`adamkit.torch.replay.keeps`)."""
        return kept is not None and bool(kept.records) and keeps(kept.records, scalars_only=True)

    def run(
        self, family: LowBitKernels, full_engine: Any, rule: Rule, group: dict, state: dict, hp: dict
    ) -> bool:
        """Replay the step on ``group``; False (having changed nothing) where a check fails."""
        params = group["params"]
        if (
            group.get("state_bits", 32) != self.bits
            or len(params) != len(self.params)
            or not all(map(operator.is_, params, self.params))
            or hp.get("differentiable", False)
            or not family.kernel.supports(hp)
            or family.names(hp) != self.kept.names
        ):
            return False
        for param in self.full:
            grad = param.grad
            if grad is None or grad.is_sparse:  # the general path frees a record, or refuses sparse rows
                return False
        confirmed = self.checks.confirm(self.fused, state)
        if confirmed is None:
            return False
        grads, first = confirmed
        names = self.kept.names
        seen = {**from_key(self.layout, first), **{n: True for n in names if n is not None}}
        args, new_scalars = family.kernel.scalars(hp, seen)
        # 8 bits: the extras are the arrays' maps, fixed by their names (checked above): as kept
        extras = family.extras(names, new_scalars, self.bits) if self.bits == 16 else None
        several = len(self.kept.tables) > 1
        if several:
            grads = np.array(grads, np.int64)
        for (_, rows, addresses, _, scalars, extra), launch in zip(
            self.kept.tables, self.launches, strict=True
        ):
            addresses[:, 1] = grads[rows] if several else grads
            scalars[:] = args  # Python floats rounded to float32, as torch casts them
            if extras is not None:
                extra[:] = extras
            launch()
        bump_versions(self.kept.written)
        self.checks.store(self.names, new_scalars)
        if self.full:
            full_engine.step_group(rule, {**group, "params": self.full}, state)
        return True
