"""Host side of the fused low-bit kernels: which parameters they take, and one call per step.

Per step, in Python, O(1) work per tensor: check that the kernel can take it (float32,
dense, contiguous, on a device with kernels; its state stored at the group's precision on
the same device), compute the per-step scalars once per distinct scalar state (the fp32
family's own host code, :attr:`adamkit.torch.kernels.contract.FusedKernel.scalars`), and
note the addresses. Then one kernel call per device updates every tensor there: on the
CPU, numba kernels in units of 16,384 values spread over the cores (Adam's own,
:mod:`.adam_kernels`; every other family's fp32 kernel on decoded chunks, :mod:`.families`);
on CUDA devices (with Triton), Adam's :mod:`adamkit.torch.gpu.lowbit`.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import defaultdict
from typing import Any

import numpy as np
import torch

from ...distributed import flat_offset
from ...rules.spec import Rule, State
from ..fit import Checked, plain, takes
from ..fused import bump_versions, imported
from ..kernels.contract import FusedKernel
from ..kernels.jit import bind, entry_point, kept_starts, run, with_split
from . import adam_kernels as kernels
from . import families
from .codecs import BLOCK, absmax_key, codes_key, rounding_seed
from .engine import fresh_lowbit_state
from .state import SIGNED_MOMENTS

FLOAT32 = (np.dtype(np.float32), 1)  # what the kernels compute in, reals per element
#: device type -> "module:function" running a table of that device's tensors (as the fp32 engine's
#: :data:`adamkit.torch.fused.LAUNCHERS`); tensors elsewhere take the reference path
CPU_LAUNCHER = "adamkit.torch.lowbit.fused:launch_cpu"
LAUNCHERS: dict[str, str] = {"cpu": CPU_LAUNCHER}
if importlib.util.find_spec("triton") is not None:
    LAUNCHERS["cuda"] = "adamkit.torch.gpu.lowbit:launch"
#: families with kernels on every device of :data:`LAUNCHERS`; the others' run on the CPU only
EVERY_DEVICE = frozenset({"adam"})
#: state a family's kernel creates on its first step (SGD's momentum buffer: the first gradient)
BORN_IN_KERNEL = {"sgd": frozenset({"momentum_buffer"})}


class Names(dict):
    """A stand-in state whose every entry is its own key: a family's ``arrays(state, param, hp)``
    called on it returns its state arrays' names (None for those the flags leave unused)."""

    def __missing__(self, key: str) -> str:
        return key

    def get(self, key: str, default: Any = None) -> str:
        return key


def beside(t: Any, param: torch.Tensor) -> bool:
    """Whether ``t`` is a plain tensor on ``param``'s device, which has kernels."""
    return isinstance(t, torch.Tensor) and plain(t, LAUNCHERS) and t.device == param.device


def stored_as(p_state: State, name: str, param: torch.Tensor, precision: int) -> bool:
    """Whether moment ``name`` is stored at ``precision`` in the layout the kernels read."""
    if precision == 32:
        t = p_state.get(name)
        return beside(t, param) and t.dtype == torch.float32 and t.shape == param.shape and t.is_contiguous()
    if precision == 16:
        t = p_state.get(name)
        return beside(t, param) and t.dtype == torch.bfloat16 and t.shape == param.shape
    codes, absmax = p_state.get(codes_key(name)), p_state.get(absmax_key(name))
    return (
        beside(codes, param)
        and beside(absmax, param)
        and codes.dtype == torch.uint8
        and codes.shape == param.shape
        and absmax.dtype == torch.float32
        and absmax.numel() == -(-param.numel() // BLOCK)
    )


def stored_empty(p_state: State, name: str, param: torch.Tensor, precision: int) -> None:
    """Moment ``name`` stored as zeros at ``precision`` (for a kernel that writes it whole)."""
    dense = torch.contiguous_format
    if precision == 32:
        p_state[name] = torch.zeros_like(param, dtype=torch.float32, memory_format=dense)
    elif precision == 16:
        p_state[name] = torch.zeros_like(param, dtype=torch.bfloat16, memory_format=dense)
    else:
        p_state[codes_key(name)] = torch.zeros_like(param, dtype=torch.uint8, memory_format=dense)
        p_state[absmax_key(name)] = torch.zeros(-(-param.numel() // BLOCK), device=param.device)


class LowBitKernels:
    """A family's fused 16-bit and 8-bit kernels and their host code.

    One instance per optimizer: it keeps a :class:`..fit.Checked` record of each parameter
    it took, so that later steps only confirm nothing was swapped (see :mod:`..fit`).
    ``kernel`` is the family's fp32 :class:`~adamkit.torch.kernels.contract.FusedKernel`, whose
    state arrays, scalars and (but for Adam) update the low-bit kernels use; ``rule`` the
    rule, whose scalar state they need.
    """

    def __init__(self, kernel: FusedKernel, rule: Rule) -> None:
        self.kernel, self.name, self.scalar_keys = kernel, kernel.name, rule.scalar_state
        self.checked: dict[int, Checked] = {}  # by id(param)
        self.devices = LAUNCHERS if self.name in EVERY_DEVICE else ("cpu",)
        self.born = BORN_IN_KERNEL.get(self.name, frozenset())

    def names(self, hp: dict[str, Any]) -> tuple[str | None, ...]:
        """The family's state arrays, in its kernel's order (None: unused under these flags), padded
        with None to the kernels' :data:`.families.ARRAYS`."""
        names = tuple(self.kernel.arrays(Names(), None, hp))
        return names + (None,) * (families.ARRAYS - len(names))

    def takes(self, param: torch.Tensor, p_state: State, hp: dict[str, Any], precision: int) -> bool:
        grad = param.grad
        checked = self.checked.get(id(param))
        if checked is not None:
            if checked.scalar_values(param, grad, p_state) is not None and self.holds(
                checked, p_state, hp, precision
            ):
                return True
            del self.checked[id(param)]  # something was swapped: checked again in full
        if precision not in (8, 16) and not self.takes_float32(precision):
            return False
        if param.dtype != torch.float32 or hp.get("differentiable", False):
            return False
        devices = self.devices if precision != 32 else ("cpu",)
        if not takes(param, grad, devices) or not self.kernel.supports(hp):
            return False
        if not p_state:  # created at the first step, in the kernels' layout
            return True
        return all(key in p_state for key in self.scalar_keys) and all(
            stored_as(p_state, n, param, precision) or n in self.born and not has_moment(p_state, n)
            for n in self.names(hp)
            if n is not None
        )

    def takes_float32(self, precision: int) -> bool:
        """Whether the 8-bit kernels take a tensor whose moments stay 32-bit (one under 8-bit blocks'
        minimum size): Adam's do, on the CPU (:func:`.adam_kernels.float32_moments`), so that a
        group's biases step in the same call as its matrices instead of through a second engine."""
        return precision == 32 and self.name == "adam"

    def holds(self, checked: Checked, p_state: State, hp: dict[str, Any], precision: int) -> bool:
        try:
            return checked.holds(self, self.arrays(p_state, hp, precision))
        except KeyError:  # moments stored at another precision
            return False

    def arrays(self, p_state: State, hp: dict[str, Any], precision: int) -> tuple[torch.Tensor | None, ...]:
        """The state tensors in the kernels' order: per array its bfloat16 tensor (16 bits), its codes
        and absmax (8 bits) or its float32 tensor and None (32 bits, in an 8-bit table); None for
        arrays the flags leave unused."""
        out: list[torch.Tensor | None] = []
        for name in self.names(hp):
            if name is None:
                out += [None] if precision == 16 else [None, None]
            elif precision == 16:
                out.append(p_state[name])
            elif precision == 32:
                out += [p_state[name], None]
            else:
                out += [p_state[codes_key(name)], p_state[absmax_key(name)]]
        return tuple(out)

    def step(
        self,
        rule: Rule,
        params: list[torch.Tensor],
        hp: dict[str, Any],
        state: dict,
        bits: int,
        float32: frozenset[int] = frozenset(),
    ) -> Kept | None:
        """One step of ``params`` (all taken by :meth:`takes` at precision ``bits``, but those whose
        ids are in ``float32``: taken at 32, :meth:`takes_float32`): one kernel call per device.
        Returns what a :class:`.replay.LowBitReplay` keeps of it (None where a moment was born in
        this step: the records then see state that did not exist yet)."""
        tables: dict[torch.device, Table] = defaultdict(Table)
        written = []
        memo: dict[tuple, tuple] = {}  # the scalars and per-array extras, once per distinct state
        updates = []
        names = self.names(hp)
        anything_born = False
        for param in params:
            p_state = state[param]
            precision = 32 if id(param) in float32 else bits
            if not p_state:
                p_state.update(fresh_lowbit_state(rule, param.detach(), hp, precision))
            checked = self.checked.get(id(param))
            born: tuple[str, ...] = ()  # state the kernel creates (:attr:`born`), absent until it runs
            if checked is None:  # (a record holds every array: none is missing later)
                born = tuple(n for n in names if n is not None and not has_moment(p_state, n))
                for name in born:
                    stored_empty(p_state, name, param, precision)
                anything_born = anything_born or bool(born)
                tensors = self.arrays(p_state, hp, precision)
                checked = self.checked[id(param)] = Checked(rule, param, p_state, self, tensors, FLOAT32)
            current = {key: checked.value(key) for key, _, _ in checked.scalars}
            key = (tuple(current.items()), born)
            if key not in memo:
                seen = {**current, **{n: None if n in born else True for n in names if n is not None}}
                args, new_scalars = self.kernel.scalars(hp, seen)
                memo[key] = args, new_scalars, self.extras(names, new_scalars, bits)
            args, new_scalars, extras = memo[key]
            if bits == 16 and flat_offset(param):  # a DTensor's shard: rounded as in the whole tensor
                shift = flat_offset(param)
                extras = [e if e == families.NEAREST else (e + shift) & 0xFFFFFFFF for e in extras]
            table = tables[param.device]
            table.rows.append(len(updates))
            table.addresses.append([checked.address, param.grad.data_ptr(), *checked.addresses])
            table.sizes.append(checked.size)
            table.scalars.append(args)
            table.extras.append(extras)
            written.extend(checked.written)
            updates.append((checked, new_scalars))
        arrays = [
            (device, table.rows, *table.launch(device, self, bits, hp)) for device, table in tables.items()
        ]
        bump_versions(written)  # the kernels wrote the parameters and moments behind autograd's back
        for checked, new_scalars in updates:
            checked.store(new_scalars)
        if anything_born:
            return None
        return Kept([checked for checked, _ in updates], names, arrays, written)

    def extras(self, names: tuple[str | None, ...], new_scalars: State, bits: int) -> list[int]:
        """Per state array: at 16 bits its rounding seed (:func:`.codecs.rounding_seed` of the new
        step; :data:`.families.NEAREST` for a rule that counts no steps); at 8 bits whether it
        takes the signed map."""
        step = new_scalars.get("step")
        if bits == 8:
            return [int(n in SIGNED_MOMENTS) for n in names]
        return [families.NEAREST if n is None or step is None else rounding_seed(step, n) for n in names]

    def entry(self, bits: int, amsgrad: bool) -> Any:
        """The C entry point (a Python function to compile) of this family at ``bits``."""
        if self.name == "adam":
            if bits == 16:
                return kernels.adam16_entry
            return kernels.adam8_amsgrad_entry if amsgrad else kernels.adam8_entry
        return family_entries(self.kernel)[bits]


_FAMILY_ENTRIES: dict[str, dict[int, Any]] = {}


def family_entries(kernel: FusedKernel) -> dict[int, Any]:
    """:func:`.families.entries` of ``kernel``'s family (its work function ``<name>_work``), made once."""
    if kernel.name not in _FAMILY_ENTRIES:
        module = sys.modules[kernel.entry.__module__]
        work = getattr(module, kernel.entry.__name__.removesuffix("_entry") + "_work")
        _FAMILY_ENTRIES[kernel.name] = families.entries(kernel.name, work)
    return _FAMILY_ENTRIES[kernel.name]


def has_moment(p_state: State, name: str) -> bool:
    return name in p_state or codes_key(name) in p_state


class Kept:
    """What a low-bit step leaves for its replay: the records in the order stepped, the state
    names, per device ``(device, rows, addresses, sizes, scalars, extras)``, what the kernels wrote."""

    def __init__(self, records: list[Checked], names: tuple, tables: list, written: list) -> None:
        self.records, self.names, self.tables, self.written = records, names, tables, written


class Table:
    """The tensors of one device that one kernel call updates: a row each."""

    def __init__(self) -> None:
        self.rows: list[int] = []  # the rows' indices among the step's parameters
        self.addresses: list[list[int]] = []
        self.sizes: list[int] = []
        self.scalars: list[tuple] = []
        self.extras: list[list[int]] = []

    def launch(
        self, device: torch.device, family: LowBitKernels, precision: int, hp: dict[str, Any]
    ) -> tuple[np.ndarray, ...]:
        """Run the table with its device's launcher (:func:`launch_table`); returns its arrays
        (addresses, sizes, scalars, extras)."""
        arrays = (
            np.array(self.addresses, np.int64),
            np.array(self.sizes, np.int64),
            np.array(self.scalars, np.float64).astype(np.float32),  # as torch casts a Python float
            np.array(self.extras, np.uint64),
        )
        launch_table(device, family, precision, hp, arrays)
        return arrays


def bound_table(
    device: torch.device, family: LowBitKernels, precision: int, hp: dict[str, Any], arrays: tuple
) -> Any:
    """:func:`launch_table` of these ``arrays`` as a call of no arguments: on the CPU its launch
    arguments worked out once (:func:`adamkit.torch.kernels.jit.bind`), for a replay that writes
    later steps' values into the arrays in place."""
    addresses, sizes, scalars, extras = arrays
    if device.type != "cpu" or LAUNCHERS["cpu"] != CPU_LAUNCHER:
        return lambda: launch_table(device, family, precision, hp, arrays)
    entry = entry_point(family.entry(precision, hp.get("amsgrad", False)), np.float32)
    # over threads in finer units (whole quantisation blocks), as the fp32 tables: the same bits
    return with_split(bind(entry, kept_starts(sizes), addresses, sizes, scalars, kernels.UNIT, extras), entry)


def launch_table(
    device: torch.device, family: LowBitKernels, precision: int, hp: dict[str, Any], arrays: tuple
) -> None:
    """Run a table's ``arrays`` (addresses, sizes, scalars, extras) with its device's launcher
    (:data:`LAUNCHERS`; the CPU's for a family with kernels on the CPU only)."""
    launcher = imported(LAUNCHERS[device.type]) if family.name in EVERY_DEVICE else launch_cpu
    launcher(family.entry(precision, hp.get("amsgrad", False)), precision, *arrays, device)


def launch_cpu(
    entry: Any,
    precision: int,
    addresses: np.ndarray,
    sizes: np.ndarray,
    scalars: np.ndarray,
    extras: np.ndarray,
    device: torch.device,
) -> None:
    """One numba kernel call for a table of CPU tensors: its units of work on this thread, or on as
    many threads as torch uses (:func:`adamkit.torch.kernels.jit.run`, as the fp32 kernels).

    The table's rows (``addresses``, ``scalars`` in float32, ``extras``: per state array its
    rounding seed at 16 bits, whether it is signed at 8; Adam's 8-bit entries, which know their
    maps, ignore them) are laid out as :mod:`.adam_kernels` (``entry``: one of its entry points)
    or :mod:`.families` say.
    """
    starts = kept_starts(sizes)
    run(entry_point(entry, np.float32), starts, addresses, sizes, scalars, kernels.UNIT, extras)
