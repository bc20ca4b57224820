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
  same objects at the same addresses (what :meth:`.fit.Checked.scalar_values` and
  :meth:`.fit.Checked.holds` check, here for the whole group at once: :class:`ReplayChecks`);
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
from itertools import chain, cycle
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

    __slots__ = ("params", "records", "family", "kernel", "layout", "names", "pattern", "tables", "checks")

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
        #: what each step confirms of the records, and where it writes the new step counts
        self.checks = ReplayChecks(records)

    def run(self, group: dict[str, Any], state: dict, hp: dict[str, Any], memo: dict) -> bool:
        """Replay the step on ``group``; False (having changed nothing) where a check fails."""
        params = group["params"]
        if len(params) != len(self.params) or not all(map(operator.is_, params, self.params)):
            return False
        confirmed = self.checks.confirm(params, state)
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
        self.checks.store(self.names, new_scalars)
        return True


def scalar_names(layout: tuple) -> tuple[str, ...]:
    """The scalar state's names in a layout (:func:`.fit.scalar_key`), in its order."""
    return tuple(entry if isinstance(entry, str) else entry[0] for entry in layout if scalar_entry(entry))


def scalar_entry(entry: Any) -> bool:
    """Whether a layout entry (:func:`.fit.scalar_key`) is scalar state, not an array's presence."""
    return isinstance(entry, str) or entry[1] is np.float32


def keeps(records: list[Checked], scalars_only: bool = False) -> bool:
    """Whether a step of ``records`` can be replayed: one layout of scalar state, every scalar a
    tensor with a NumPy view (:func:`.fit.numpy_view`: read and written in place), as torch.optim
    keeps ``step``. ``scalars_only``: layouts may differ in their arrays' entries (the low-bit
    kernels' table, whose small tensors keep float32 moments under other keys than the codes)."""
    if scalars_only:
        layouts = {tuple(filter(scalar_entry, record.layout)) for record in records}
    else:
        layouts = {record.layout for record in records}
    return len(layouts) == 1 and all(view is not None for record in records for _, _, view in record.scalars)


#: ``param.grad``, and a gradient's kind as :meth:`.fit.Checked.scalar_values` checks it
#: (on the CPU; on another device, its device)
GRAD = operator.attrgetter("grad")
CPU_KIND = operator.attrgetter("layout", "dtype", "shape", "is_cpu")
DEVICE_KIND = operator.attrgetter("layout", "dtype", "shape", "device")
PLAIN = frozenset(PLAIN_TENSORS)


class ReplayChecks:
    """The checks of :meth:`.fit.Checked.scalar_values` and :meth:`.fit.Checked.holds` for every
    record of a replay at once, and the write of the new step counts.

    Each check is one pass over a whole list in C (``map`` of torch's getters, list equality,
    ``all`` of ``operator.is_``), not a Python loop over tensors: a tiny GPT-2's 148 tensors took
    about 2 us each in such a loop. The Python calls a step makes no longer grow with the tensors.
    """

    __slots__ = (
        "records",
        "p_states",
        "lengths",
        "values",
        "addresses",
        "kind",
        "kinds",
        "conj",
        "state_tensors",
        "state_addresses",
        "views",
        "count",
    )

    def __init__(self, records: list[Checked]) -> None:
        self.records = records
        #: each parameter's state dict, its length, and every value of them in order
        self.p_states = [record.p_state for record in records]
        self.lengths = list(map(len, self.p_states))
        self.values = list(chain.from_iterable(map(dict.values, self.p_states)))
        self.addresses = [record.address for record in records]
        cpu = all(record.cpu for record in records)
        self.kind = CPU_KIND if cpu else DEVICE_KIND
        self.kinds = [(torch.strided, r.dtype, r.shape, True if cpu else r.where[0]) for r in records]
        self.conj = any(record.complex for record in records)  # only complex tensors carry a conjugate bit
        self.state_tensors = [t for record in records for t in record.state_tensors]
        self.state_addresses = [a for record in records for a in record.state_addresses]
        #: the scalar state's NumPy views, record after record (steps are counted per tensor, as torch does)
        self.views = [view for record in records for _, _, view in record.scalars]
        self.count = len(records[0].scalars)  # per record: one layout (:func:`keeps`)

    def confirm(self, params: Any, state: dict) -> tuple[list[int], tuple] | None:
        """For the records' ``params``: the gradients' addresses and the one scalar state they share,
        if every record's checks still hold and every tensor has the same scalar state; else None."""
        grads = list(map(GRAD, params))
        if not (
            set(map(type, grads)) <= PLAIN  # (a missing gradient: NoneType)
            and list(map(self.kind, grads)) == self.kinds
            and all(map(torch.Tensor.is_contiguous, grads))
            and not any(map(torch.Tensor.is_neg, grads))
            and not (self.conj and any(map(torch.Tensor.is_conj, grads)))
            and list(map(torch.Tensor.data_ptr, params)) == self.addresses  # not moved
            and self.same_state(params, state)
            and list(map(len, self.p_states)) == self.lengths
            and all(map(operator.is_, chain.from_iterable(map(dict.values, self.p_states)), self.values))
            and list(map(torch.Tensor.data_ptr, self.state_tensors)) == self.state_addresses  # not re-pointed
        ):
            return None
        values = list(map(np.ndarray.item, self.views))
        first = values[: self.count]
        if values != first * len(self.records):  # steps counted apart (a parameter frozen for a while)
            return None
        return list(map(torch.Tensor.data_ptr, grads)), tuple(first)

    def same_state(self, params: Any, state: dict) -> bool:
        """Whether ``state`` still holds each parameter's state dict (not replaced, not reloaded). Where
        the group owns the whole state, in its order (one group, the usual case), its keys and values
        are compared in order, without hashing each parameter (``Tensor.__hash__`` is Python code)."""
        p_states = self.p_states
        if len(state) == len(p_states) and all(map(operator.is_, state, params)):
            return all(map(operator.is_, state.values(), p_states))
        return all(map(operator.is_, map(state.get, params), p_states))

    def store(self, names: tuple[str, ...], new: dict[str, Any]) -> None:
        """Write a step's new scalar state into every record's views (``names``: :func:`scalar_names`,
        the views' order); a step that writes other keys too leaves it to each record."""
        if len(new) != len(names) or not all(key in new for key in names):
            for record in self.records:
                record.store(new)
            return
        if self.count == 1:
            value = new[names[0]]
            for view in self.views:
                view[()] = value
            return
        for view, value in zip(self.views, cycle([new[key] for key in names]), strict=False):
            view[()] = value
