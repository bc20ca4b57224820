"""A param group's fused step replayed: the tables of the last step reused, only what changes written.

A small model's step is host work. The fused engine's general path (:mod:`.fused`) does, per
tensor and step, the checks of :mod:`.fit`, a lookup of its kernel scalars, and appends its
addresses to lists that become NumPy arrays; for a tiny GPT-2 (148 tensors) that was about
10 us a tensor. Between two steps of a steady training loop almost nothing of it changes:
the same parameters, records, state tensors and layout; only the gradients (new tensors, often
at the same addresses), the scalar state (the step counters) and the group's numbers (a
scheduler's lr).

So after a general step that ran the whole group on the kernels, in one kernel family
(no phases, no per-tensor sums, no DTensor shards), the engine keeps a :class:`Replay`: the
records, the tables' arrays and which rows hold which parameter. The next step replays it if
every check still holds:

* the group holds the same parameter objects, in the same order;
* each parameter has a gradient that its record accepts and the same state dict, holding the
  same objects at the same addresses (:meth:`.fit.Checked.scalar_values`, :meth:`same_state`);
* every tensor has the same scalar state (one step count for the group: one row of kernel
  scalars), and the kernel the family chooses for it is the one replayed;
* the first tensor's state arrays, as the kernel takes them under today's hyperparameters,
  have the same layout (a flag toggled in the group, ``amsgrad``, changes it).

Then the gradients' addresses are written into the address table, the one scalar row into the
scalar table, and the kernels launched. If anything fails, nothing was written: the general
path runs (and keeps a new replay if it can).
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from .fit import PLAIN_TENSORS, Checked, from_key

#: replays kept per engine: one per param group, and per subset of one that the low-bit engine hands over
KEPT_REPLAYS = 16


def replay_key(group: dict[str, Any]) -> tuple[int, int]:
    """A group's key among the replays: its size and first parameter (a parameter belongs to one
    group). Not the group dict's id: the low-bit engine hands the fused engine a new dict each step
    with the tensors it keeps in 32 bits; the replay itself checks every parameter."""
    params = group["params"]
    return len(params), id(params[0]) if params else 0


class Replays(OrderedDict):
    """An engine's replays by :func:`replay_key`, the latest :data:`KEPT_REPLAYS` only (so that groups
    that come and go cannot keep old parameters and tables alive)."""

    def keep(self, key: tuple[int, int], replay: Any) -> None:
        self[key] = replay
        if len(self) > KEPT_REPLAYS:
            self.popitem(last=False)


class Replay:
    """What a group's last fused step built, to run it again (see the module's doc)."""

    __slots__ = (
        "params",
        "records",
        "family",
        "kernel",
        "layout",
        "names",
        "pattern",
        "tables",
        "rows",
        "steps",
    )

    def __init__(
        self, params: list, records: list[Checked], family: Any, kernel: Any, layout: tuple, tables: list
    ) -> None:
        self.params = tuple(params)
        self.records = records
        self.family, self.kernel = family, kernel
        self.layout, self.names = layout, scalar_names(layout)
        #: which of the first tensor's kernel arrays are absent (None): the layout under today's flags
        self.pattern = tuple(t is None for t in records[0].tensors)
        #: per table: the parameters' indices in its rows, its address and scalar arrays, its launch
        self.tables = tables
        #: per parameter, what its checks compare with (:func:`check_rows`)
        self.rows = check_rows(records)
        #: the scalar state's NumPy views, per parameter (steps are counted per tensor, as torch does)
        self.steps = [views for *_, views in self.rows]

    def run(self, group: dict[str, Any], state: dict, hp: dict[str, Any], memo: dict) -> bool:
        """Replay the step on ``group``; False (having changed nothing) where a check fails."""
        params = group["params"]
        if len(params) != len(self.params) or not all(map(operator.is_, params, self.params)):
            return False
        confirmed = confirm(params, self.rows, state)
        if confirmed is None:
            return False
        grads, first = confirmed
        current = from_key(self.layout, first)
        kernel = self.family.choose(current)  # a family with phases (SWATS) may have moved on
        if kernel is not self.kernel:
            return False
        try:
            arrays = kernel.arrays(self.records[0].p_state, params[0], hp)
        except KeyError:
            return False
        if tuple(t is None for t in arrays) != self.pattern:
            return False
        key = (self.layout, first)
        if key not in memo:
            memo[key] = (kernel, current, *kernel.scalars(hp, current))
        _, _, args, new_scalars = memo[key]
        if len(self.tables) > 1:  # tensors on several devices or of several dtypes
            grads = np.array(grads, np.int64)
        for rows, addresses, scalars, launch in self.tables:
            addresses[:, 1] = grads if len(self.tables) == 1 else grads[rows]
            scalars[:] = args  # Python floats rounded to the table's dtype, as torch casts them
            launch()
        store(self.records, self.steps, self.names, new_scalars)
        return True


def store(records: list[Checked], steps: list[tuple], names: tuple[str, ...], new: dict[str, Any]) -> None:
    """Write a step's new scalar state into every parameter's views (``steps``, in the order of
    ``names``: :func:`scalar_names`); a step that writes other keys too leaves it to each record."""
    if len(new) != len(names) or not all(key in new for key in names):
        for record in records:
            record.store(new)
        return
    values = [new[key] for key in names]
    for views in steps:
        for view, value in zip(views, values, strict=True):
            view[()] = value


def scalar_names(layout: tuple) -> tuple[str, ...]:
    """The scalar state's names in a layout (:func:`.fit.scalar_key`), in its order."""
    return tuple(entry if isinstance(entry, str) else entry[0] for entry in layout if scalar_entry(entry))


def scalar_entry(entry: Any) -> bool:
    """Whether a layout entry (:func:`.fit.scalar_key`) is scalar state, not an array's presence."""
    return isinstance(entry, str) or entry[1] is np.float32


def keeps(records: list[Checked]) -> bool:
    """Whether a step of ``records`` can be replayed: one layout of scalar state, every scalar a
    tensor with a NumPy view (:func:`.fit.numpy_view`: read and written in place), as torch.optim
    keeps ``step``."""
    return len({record.layout for record in records}) == 1 and all(
        view is not None for record in records for _, _, view in record.scalars
    )


def check_rows(records: list[Checked]) -> list[tuple]:
    """Per record, what :func:`confirm` compares with: its own checks' values and its state dict's objects."""
    return [
        (
            record.p_state,
            tuple(record.p_state.values()),
            record.address,
            record.dtype,
            record.shape,
            record.complex,
            record.cpu,
            record.state_tensors,
            record.state_addresses,
            tuple(view for _, _, view in record.scalars),
        )
        for record in records
    ]


def confirm(params: Any, rows: list[tuple], state: dict) -> tuple[list[int], tuple] | None:
    """For ``params`` and their :func:`check_rows`: the gradients' addresses and the one scalar state
    they share, if every record's checks still hold (:meth:`.fit.Checked.scalar_values`, then the
    state's objects and addresses) and every tensor has the same scalar state; else None."""
    grads = []
    first = None
    for param, row in zip(params, rows, strict=True):
        p_state, values, address, dtype, shape, complex_, cpu, tensors, addresses, views = row
        grad = param.grad
        if not (
            grad is not None
            and type(grad) in PLAIN_TENSORS
            and param.data_ptr() == address
            and state.get(param) is p_state
            and grad.layout is torch.strided
            and grad.dtype is dtype
            and grad.shape == shape
            and grad.is_contiguous()
            and not grad.is_neg()
            and not (complex_ and grad.is_conj())
            and (grad.is_cpu if cpu else grad.device == param.device)
            and len(p_state) == len(values)
            and all(map(operator.is_, p_state.values(), values))
            and list(map(torch.Tensor.data_ptr, tensors)) == addresses
        ):
            return None
        scalars = tuple(view.item() for view in views)
        if first is None:
            first = scalars
        elif scalars != first:  # steps counted apart (a parameter frozen for a while)
            return None
        grads.append(grad.data_ptr())
    return grads, first
