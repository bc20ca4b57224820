"""Fused engines: a whole param group updated by one compiled call, in one pass over memory.

``engine_for(rule)`` is the registry :func:`adamkit.torch.optimizer.choose_engine` asks:
it returns a :class:`FusedEngine` where a kernel family exists for the rule and numba
is installed, else ``None`` (the reference engine).

Per step, the engine does in Python only O(1) work per tensor: check that the kernels can
take it (in full the first time, then only that nothing was swapped: :mod:`.fit`), compute
its scalars (bias corrections, step) in float64 from the group's hyperparameters as the rule
does (once per distinct ``step``), and note the addresses of its arrays. Then one kernel
call per dtype updates every tensor of the group, its blocks spread over the cores
(:mod:`adamkit.torch.kernels.jit`). A family whose tensors move through phases (SWATS: Adam,
then SGD) makes one call per dtype and phase; a kernel that returns per-tensor sums has them
turned into scalar state on the host after its call, or into the scalars of a second pass over
the same table (LAMB's trust ratio, the cautious rescale: :mod:`adamkit.torch.kernels.contract`;
on DTensor shards the sums are added across the ranks first; Triton's launcher keeps the sums, and
the factor, on the device: :func:`adamkit.torch.gpu.launch.launch_second`).

A parameter the kernels cannot take (float16 or bfloat16, a non-contiguous or sparse
gradient, another device, a tensor subclass, state of another dtype) goes to the
reference engine, parameter by parameter. Results and state are the same either way,
and so are the ``state_dict`` keys and dtypes, so engines can be switched at any point
of a training run.

Devices: tensors are gathered into one table per device and dtype, and ``LAUNCHERS``
runs a table on its device: numba on the CPU, Triton on CUDA devices where Triton is
installed (:mod:`adamkit.torch.gpu`: the same table of addresses, sizes and per-tensor
scalars, read by a Triton kernel of the family). The host code (checks, scalars, state)
is the same for both. Parameters on a device without a launcher, or whose launcher has
no kernel for the family (:func:`launcher_runs`), take the reference engine.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
import warnings
from typing import Any

import numpy as np
import torch

from ..distributed import is_dtensor
from ..rules.spec import Hyper, Rule, State
from .engine import Engine, ReferenceEngine, fresh_state, plain_hyper
from .fit import Checked, device_type, from_key, matches, read_scalars, scalar_key, takes
from .replay import Replay, Replays, keeps, replay_key

#: rule name -> "module:attribute" of its kernel family (imported on first use: numba is optional).
KERNELS: dict[str, str] = {
    "adam": "adamkit.torch.kernels.adam:ADAM_KERNEL",
    "adamw": "adamkit.torch.kernels.adam:ADAM_KERNEL",
    "adamax": "adamkit.torch.kernels.adamax:ADAMAX_KERNEL",
    "nadam": "adamkit.torch.kernels.nadam:NADAM_KERNEL",
    "radam": "adamkit.torch.kernels.radam:RADAM_KERNEL",
    "sgd": "adamkit.torch.kernels.sgd:SGD_KERNEL",
    "rmsprop": "adamkit.torch.kernels.rmsprop:RMSPROP_KERNEL",
    "adagrad": "adamkit.torch.kernels.adagrad:ADAGRAD_KERNEL",
    "swats": "adamkit.torch.kernels.swats:SWATS_KERNEL",
    "lion": "adamkit.torch.kernels.lion:LION_KERNEL",
    "adabelief": "adamkit.torch.kernels.adabelief:ADABELIEF_KERNEL",
    "ademamix": "adamkit.torch.kernels.ademamix:ADEMAMIX_KERNEL",
    "lamb": "adamkit.torch.kernels.lamb:LAMB_KERNEL",
    "schedulefree_adamw": "adamkit.torch.kernels.schedulefree:SCHEDULEFREE_KERNEL",
    # its own engine (factors of rows and columns): adamkit.torch.fused_adafactor
    "adafactor": "adamkit.torch.fused_adafactor:ADAFACTOR_KERNELS",
}

#: torch dtype -> (NumPy dtype the kernel computes in, reals per element)
KERNEL_DTYPES: dict[torch.dtype, tuple[np.dtype, int]] = {
    torch.float32: (np.dtype(np.float32), 1),
    torch.float64: (np.dtype(np.float64), 1),
    torch.complex64: (np.dtype(np.float32), 2),  # complex: the real and imaginary parts, as torch
    torch.complex128: (np.dtype(np.float64), 2),
}
#: device type -> "module:function" that runs a kernel over a table of that device's tensors
#: (and returns the per-tensor sums of a kernel with reductions: see :func:`.kernels.jit.launch`).
#: Each module also has ``runs(kernel) -> bool``: whether it has that kernel family.
LAUNCHERS: dict[str, str] = {"cpu": "adamkit.torch.kernels.jit:launch"}
if importlib.util.find_spec("triton") is not None:  # Triton kernels for CUDA devices
    LAUNCHERS["cuda"] = "adamkit.torch.gpu.launch:launch"


class Table:
    """The tensors of one device and dtype in a group that one kernel updates, in one call.

    Rows are gathered flat (one list of addresses, one index per row into the distinct
    scalar rows, usually one per step) and turned into arrays once at launch: building
    NumPy arrays from nested lists cost about a microsecond per tensor.
    """

    def __init__(self, device: torch.device, dtype: np.dtype, kernel: Any) -> None:
        self.device = device
        self.dtype = dtype
        self.kernel = kernel
        self.addresses: list[int] = []  # row after row: param, grad, the kernel's arrays
        self.sizes: list[int] = []
        self.distinct: list[tuple] = []  # the distinct scalar rows
        self.which: list[int] = []  # per row, its index into distinct
        self.seen: dict[int, int] = {}  # id of a scalar row (alive in the step's memo) -> its index
        self.written: list[torch.Tensor] = []  # what the kernel writes, behind autograd's back
        self.totals: np.ndarray | None = None  # per-tensor sums, after launch (kernels with reductions)
        self.size_array: np.ndarray | None = None  # sizes as an array, at launch
        self.address_array: np.ndarray | None = None  # addresses as an array, at launch
        self.first_rows: np.ndarray | None = None  # each row's scalars in float64, at launch
        self.whole_sizes: dict[int, int] = {}  # row -> the whole tensor's reals, for a local shard's row

    def add(self, checked: Checked, grad: torch.Tensor, scalars: tuple) -> int:
        """Add a checked parameter and its gradient; returns its row (its index into :attr:`totals`)."""
        self.addresses.append(checked.address)
        self.addresses.append(grad.data_ptr())
        self.addresses.extend(checked.addresses)
        self.sizes.append(checked.size)
        index = self.seen.get(id(scalars))
        if index is None:
            index = self.seen[id(scalars)] = len(self.distinct)
            self.distinct.append(scalars)
        self.which.append(index)
        self.written.extend(checked.written)
        return len(self.sizes) - 1

    def launch(self) -> tuple[np.ndarray, np.ndarray]:
        """Build the table's arrays and run the kernel; returns the address and scalar arrays
        (kept by a :class:`.replay.Replay`, which writes a later step's values into them)."""
        self.size_array = np.array(self.sizes, np.int64)
        addresses = self.address_array = np.array(self.addresses, np.int64).reshape(len(self.sizes), -1)
        # each row's scalars in float64 (a second pass computes its own from them), then rounded to
        # the table's dtype as torch casts a Python float
        self.first_rows = np.array(self.distinct, np.float64)[np.array(self.which, np.intp)]
        scalars = self.first_rows.astype(self.dtype)
        self.launch_arrays(addresses, scalars)
        return addresses, scalars

    def launch_second(self) -> None:
        """The kernel's second pass (:class:`.kernels.contract.SecondPass`) over the same rows, with
        scalars from the first pass's and the per-tensor sums (after any all-reduce of them)."""
        second, first = self.kernel.then, self.first_rows
        sizes = self.size_array.copy()  # a shard's row counts its whole tensor (the cautious rescale's d)
        sizes[list(self.whole_sizes)] = list(self.whole_sizes.values())
        launch = launcher(self.device.type)
        if isinstance(self.totals, torch.Tensor):  # sums kept on the device (Triton): the factor too
            on_device = sys.modules[launch.__module__].launch_second
            table = self.address_array, self.size_array
            on_device(second, *table, first, self.totals, sizes, self.dtype, self.device)
        else:
            with np.errstate(all="ignore"):  # a NaN sum makes a NaN factor, as the rule's would
                rows = second.scalars(first, self.totals, sizes, self.dtype)
                scalars = np.ascontiguousarray(rows.astype(self.dtype))
            launch(second.kernel, self.address_array, self.size_array, scalars, self.device)
        bump_versions(self.written)

    def bind(self, addresses: np.ndarray, scalars: np.ndarray) -> Any:
        """A call that launches the kernel over ``addresses`` and ``scalars`` as they will then
        hold (kept alive and written in place by a :class:`.replay.Replay`): the launcher's
        ``bound`` where it has one (the numba launcher: arguments worked out once)."""
        bound = getattr(sys.modules[launcher(self.device.type).__module__], "bound", None)
        if bound is None:
            return lambda: self.launch_arrays(addresses, scalars)
        launch = bound(self.kernel, addresses, self.size_array, scalars)

        def launch_and_bump() -> None:
            launch()
            bump_versions(self.written)

        return launch_and_bump

    def launch_arrays(self, addresses: np.ndarray, scalars: np.ndarray) -> None:
        """Run the kernel over the table ``addresses`` and ``scalars`` (rows as :attr:`sizes`)."""
        launch = launcher(self.device.type)
        self.totals = launch(self.kernel, addresses, self.size_array, scalars, self.device)
        bump_versions(self.written)


def bump_versions(tensors: list[torch.Tensor]) -> None:
    """Tell autograd that ``tensors`` changed in place, as a torch in-place op would.

    The kernels write through raw addresses; without this, a graph that saved a
    parameter before the step would not notice that it changed.
    """
    try:
        torch.autograd.graph.increment_version(tensors)
    except TypeError:  # older torch: one tensor at a time
        for t in tensors:
            torch.autograd.graph.increment_version(t)


class FusedEngine:
    """Runs a rule's fused kernel over every parameter it can take; the reference engine on the rest."""

    name = "fused"

    def __init__(self, kernel: Any) -> None:
        self.kernel = kernel
        self.reference = ReferenceEngine()
        self.checked: dict[int, Checked] = {}  # by id(param): the parameters found fit (.fit)
        self.shards = None  # the local views of DTensor parameters (adamkit.distributed.shards), once seen
        self.on_reference: set[int] = set()  # ids of the parameters whose last step the reference engine ran
        self.replays = Replays()  # the groups' last steps, to replay (.replay)

    def engine_of(self, param: torch.Tensor) -> str:
        """The engine that ran ``param``'s last step: ``"fused"`` unless the kernels could not take it."""
        return "reference" if id(param) in self.on_reference else self.name

    def step_group(self, rule: Rule, group: dict[str, Any], state: dict) -> None:
        hp = plain_hyper(group)
        family = self.kernel.for_hyper(hp)  # the family's kernel, or its variant for an option (cautious)
        if not family.supports(hp):
            self.on_reference.update(map(id, group["params"]))
            self.reference.step_group(rule, group, state)
            return
        memo: dict[tuple, tuple] = {}  # the kernel and its scalars, once per distinct scalar state
        key = replay_key(group)
        replay = self.replays.pop(key, None)
        if replay is not None and replay.family is family and replay.run(group, state, hp, memo):
            self.replays.keep(key, replay)
            return
        tables: dict[tuple[torch.device, np.dtype, str], Table] = {}
        updates: list[tuple[Checked, State, State, Table, int]] = []
        leftovers, shards, sharded_rows = [], [], []
        for param in group["params"]:
            grad = param.grad
            if grad is None:  # frozen for now: its record goes, so that freed state is not kept alive
                self.checked.pop(id(param if self.shards is None else self.shards.known(param)), None)
                continue
            p_state, dparam = state[param], None
            if is_dtensor(param):  # the kernels update its local shard (adamkit.distributed.shards)
                shard = self.local_shard(param, p_state)
                if shard is None:
                    leftovers.append(param)
                    continue
                shards.append(shard)
                dparam, param, grad, p_state = param, shard.param, shard.param.grad, shard.state
            found = self.find(rule, param, grad, p_state, hp, memo, family)
            if found is None:
                leftovers.append(param if dparam is None else dparam)
                continue
            checked, current, args, new_scalars = found
            table = tables.get(checked.where) or tables.setdefault(
                checked.where, Table(*checked.where[:2], checked.kernel)
            )
            row = table.add(checked, grad, args)
            updates.append((checked, current, new_scalars, table, row))
            self.on_reference.discard(id(param if dparam is None else dparam))
            if dparam is not None and checked.kernel.reductions:
                sharded_rows.append((table, row, dparam))
                table.whole_sizes[row] = dparam.numel() * (2 if dparam.is_complex() else 1)
        arrays = {where: table.launch() for where, table in tables.items()}
        if sharded_rows:  # sums over shards: the whole tensors' sums, on every rank
            from ..distributed.reductions import all_reduce_totals

            all_reduce_totals([(table.totals, row, dparam) for table, row, dparam in sharded_rows])
        for table in tables.values():
            if table.kernel.then is not None:  # the update, from the whole tensors' sums
                table.launch_second()
        for checked, current, new_scalars, table, row in updates:
            finish = table.kernel.finish
            if finish is not None:  # scalar state from the tensor's sums (SWATS's switch)
                new_scalars = {**new_scalars, **finish(hp, {**current, **new_scalars}, table.totals[row])}
            checked.store(new_scalars)
        if shards:
            from ..distributed.shards import release

            release(shards)
        if leftovers:
            self.on_reference.update(map(id, leftovers))
            self.reference.step_group(rule, {**group, "params": leftovers}, state)
        elif updates and not shards and len(updates) == len(group["params"]):
            self.keep_replay(family, key, group, updates, tables, arrays)

    def keep_replay(
        self, family: Any, key: tuple, group: dict, updates: list, tables: dict, arrays: dict
    ) -> None:
        """Keep a :class:`.replay.Replay` of a step that ran the whole group on the kernels, in one
        kernel without per-tensor sums and one layout of scalar state."""
        records = [checked for checked, *_ in updates]
        kernels = {id(checked.kernel) for checked in records}
        kernel = records[0].kernel
        one_kernel = len(kernels) == 1 and not kernel.reductions and kernel.finish is None
        if not (one_kernel and keeps(records)):
            return
        rows = {where: [] for where in tables}
        for index, (checked, *_) in enumerate(updates):
            rows[checked.where].append(index)
        kept = [
            (np.array(rows[where], np.intp), *arrays[where], table.bind(*arrays[where]))
            for where, table in tables.items()
        ]
        layout = records[0].layout
        self.replays.keep(key, Replay(group["params"], records, family, kernel, layout, kept))

    def local_shard(self, param: torch.Tensor, p_state: State) -> Any:
        """DTensor ``param``'s :class:`adamkit.distributed.shards.Shard` (None: run on the DTensors)."""
        from ..distributed.shards import Shards

        if self.shards is None:
            self.shards = Shards()
        return self.shards.local(param, p_state)

    def find(
        self,
        rule: Rule,
        param: torch.Tensor,
        grad: torch.Tensor,
        p_state: State,
        hp: Hyper,
        memo: dict,
        family: Any,
    ) -> tuple[Checked, State, tuple, State] | None:
        """``param``'s :class:`.fit.Checked` record, its scalar state and its kernel's scalars (from
        ``family``, the kernel the group's options chose); None if the kernels cannot take it. A record
        from an earlier step is used while it still holds."""
        checked = self.checked.get(id(param))
        values = None if checked is None else checked.scalar_values(param, grad, p_state)
        if values is not None:
            kernel, current, args, new_scalars = self.scalars(family, memo, (checked.layout, values), hp)
            try:
                tensors = kernel.arrays(p_state, param, hp)
            except KeyError:  # hyperparameters changed under the state: the full checks decide
                tensors = None
            if tensors is not None and checked.holds(kernel, tensors):
                return checked, current, args, new_scalars
        self.checked.pop(id(param), None)  # stale: it must not keep old state alive if the checks fail
        found = self.check(rule, param, grad, p_state, hp, family)
        if found is None:
            return None
        checked, key = found
        _, current, args, new_scalars = self.scalars(family, memo, key, hp)
        return checked, current, args, new_scalars

    def check(
        self, rule: Rule, param: torch.Tensor, grad: torch.Tensor, p_state: State, hp: Hyper, family: Any
    ) -> tuple[Checked, tuple] | None:
        """The full checks of ``param``, its gradient and its state (created here on the first step):
        the new record, and the :func:`.fit.scalar_key` of the state as it was before the step."""
        kind = KERNEL_DTYPES.get(param.dtype)
        if kind is None or not takes(param, grad, LAUNCHERS):
            return None
        if not p_state:
            p_state.update(fresh_state(rule, param, hp))
        current = read_scalars(rule, p_state)  # before arrays(), which may create state (SGD's buffer)
        kernel = family.choose(current)
        if not launcher_runs(device_type(param), kernel):
            return None
        try:
            tensors = kernel.arrays(p_state, param, hp)
        except KeyError:  # state from elsewhere lacks a key: the reference engine explains
            return None
        if not all(t is None or matches(t, param, LAUNCHERS) for t in tensors):
            return None
        checked = self.checked[id(param)] = Checked(rule, param, p_state, kernel, tensors, kind)
        return checked, scalar_key(rule, current)

    def scalars(self, family: Any, memo: dict, key: tuple, hp: Hyper) -> tuple[Any, State, tuple, State]:
        """For the scalar state ``key`` (:func:`.fit.scalar_key`): its kernel, the state as a dict,
        the kernel's scalars and the new scalar state; computed once per step and distinct state."""
        if key not in memo:
            current = from_key(*key)
            kernel = family.choose(current)  # the family's kernel, or its phase's for this tensor
            memo[key] = (kernel, current, *kernel.scalars(hp, current))
        return memo[key]


def launcher(device: str) -> Any:
    """The launch function of ``device`` (a key of ``LAUNCHERS``, read each time: entries may change)."""
    return imported(LAUNCHERS[device])


@functools.cache
def imported(target: str) -> Any:
    """The function ``"module:function"``, imported once."""
    module, function = target.split(":")
    return getattr(importlib.import_module(module), function)


def launcher_runs(device: str, kernel: Any) -> bool:
    """Whether the launcher of ``device`` has ``kernel``'s family (its module's ``runs``)."""
    return sys.modules[launcher(device).__module__].runs(kernel)


def kernel_for(rule: Rule) -> Any | None:
    """The kernel family registered for ``rule`` (imports numba), or None."""
    target = KERNELS.get(rule.name)
    if target is None or importlib.util.find_spec("numba") is None:
        return None
    module, attribute = target.split(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except ImportError as error:  # numba present but unusable (e.g. built for another NumPy)
        warnings.warn(
            f"adamkit: fused kernels unavailable ({error}); using the reference engine", stacklevel=3
        )
        return None


def engine_for(rule: Rule) -> Engine | None:
    """The fused engine for ``rule`` on this machine, or None to use the reference engine."""
    kernel = kernel_for(rule)
    if kernel is None:
        return None
    own_engine = getattr(kernel, "engine", None)  # a family with an engine of its own (Adafactor)
    return FusedEngine(kernel) if own_engine is None else own_engine()
