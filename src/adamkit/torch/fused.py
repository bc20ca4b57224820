"""Fused engines: a whole param group updated by one compiled call, in one pass over memory.

``engine_for(rule)`` is the registry :func:`adamkit.torch.optimizer.choose_engine` asks:
it returns a :class:`FusedEngine` where a kernel family exists for the rule and numba
is installed, else ``None`` (the reference engine).

Per step, the engine does in Python only O(1) work per tensor: check that the kernels
can take it, compute its scalars (bias corrections, step) in float64 from the group's
hyperparameters as the rule does (once per distinct ``step``), and note the addresses
of its arrays. Then one kernel call per dtype updates every tensor of the group, its
blocks spread over the cores (:mod:`adamkit.torch.kernels.jit`). A family whose tensors
move through phases (SWATS: Adam, then SGD) makes one call per dtype and phase; a kernel
that returns per-tensor sums has them turned into scalar state on the host after its call
(:mod:`adamkit.torch.kernels.contract`).

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

from ..rules.spec import Rule, State
from .engine import Engine, ReferenceEngine, fresh_state, plain_hyper

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
}

#: torch dtype -> (NumPy dtype the kernel computes in, reals per element)
KERNEL_DTYPES: dict[torch.dtype, tuple[np.dtype, int]] = {
    torch.float32: (np.dtype(np.float32), 1),
    torch.float64: (np.dtype(np.float64), 1),
    torch.complex64: (np.dtype(np.float32), 2),  # complex: the real and imaginary parts, as torch
    torch.complex128: (np.dtype(np.float64), 2),
}
PLAIN_TENSORS = (torch.Tensor, torch.nn.Parameter)

#: device type -> "module:function" that runs a kernel over a table of that device's tensors
#: (and returns the per-tensor sums of a kernel with reductions: see :func:`.kernels.jit.launch`).
#: Each module also has ``runs(kernel) -> bool``: whether it has that kernel family.
LAUNCHERS: dict[str, str] = {"cpu": "adamkit.torch.kernels.jit:launch"}
if importlib.util.find_spec("triton") is not None:  # Triton kernels for CUDA devices
    LAUNCHERS["cuda"] = "adamkit.torch.gpu.launch:launch"


def device_type(t: torch.Tensor) -> str:
    return "cpu" if t.is_cpu else t.device.type


def plain(t: torch.Tensor) -> bool:
    """Dense, contiguous, on a device with a launcher, no lazy conjugate/negative bit, no subclass."""
    return (
        type(t) in PLAIN_TENSORS
        and device_type(t) in LAUNCHERS
        and t.layout is torch.strided
        and t.is_contiguous()
        and not t.is_conj()
        and not t.is_neg()
    )


class Table:
    """The tensors of one device and dtype in a group that one kernel updates, in one call."""

    def __init__(self, device: torch.device, dtype: np.dtype, kernel: Any) -> None:
        self.device = device
        self.dtype = dtype
        self.kernel = kernel
        self.addresses: list[list[int]] = []
        self.sizes: list[int] = []
        self.scalars: list[tuple] = []
        self.written: list[torch.Tensor] = []  # what the kernel writes, behind autograd's back
        self.totals: np.ndarray | None = None  # per-tensor sums, after launch (kernels with reductions)

    def add(self, param: torch.Tensor, grad: torch.Tensor, state: tuple, size: int, scalars: tuple) -> int:
        """Add a tensor; returns its row (its index into :attr:`totals`)."""
        addresses = [param.data_ptr(), grad.data_ptr()]
        addresses.extend(0 if t is None else t.data_ptr() for t in state)
        self.addresses.append(addresses)
        self.sizes.append(size)
        self.scalars.append(scalars)
        self.written.append(param)
        self.written.extend(t for t in state if t is not None)
        return len(self.sizes) - 1

    def launch(self) -> None:
        launch = launcher(self.device.type)
        sizes = np.array(self.sizes, np.int64)
        addresses = np.array(self.addresses, np.int64)
        scalars = np.array(self.scalars, np.float64).astype(self.dtype)  # as torch casts a Python float
        self.totals = launch(self.kernel, addresses, sizes, scalars, self.device)
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

    def step_group(self, rule: Rule, group: dict[str, Any], state: dict) -> None:
        hp = plain_hyper(group)
        if not self.kernel.supports(hp):
            self.reference.step_group(rule, group, state)
            return
        tables: dict[tuple[torch.device, np.dtype, str], Table] = {}
        memo: dict[tuple, tuple] = {}  # scalars() once per distinct scalar state
        updates: list[tuple[State, State, State, Table, int]] = []
        leftovers = []
        for param in group["params"]:
            grad = param.grad
            if grad is None:
                continue
            kind = KERNEL_DTYPES.get(param.dtype)
            if kind is None or not takes(param, grad):
                leftovers.append(param)
                continue
            p_state = state[param]
            if not p_state:
                p_state.update(fresh_state(rule, param, hp))
            current = read_scalars(rule, p_state)
            kernel = self.kernel.choose(current)  # the family's kernel, or its phase's for this tensor
            if not launcher_runs(device_type(param), kernel):
                leftovers.append(param)
                continue
            key = tuple(current.items())
            if key not in memo:
                memo[key] = kernel.scalars(hp, current)
            args, new_scalars = memo[key]
            try:
                tensors = kernel.arrays(p_state, param, hp)
            except KeyError:  # state from elsewhere lacks a key: the reference engine explains
                leftovers.append(param)
                continue
            if not all(t is None or matches(t, param) for t in tensors):
                leftovers.append(param)
                continue
            where = (param.device, kind[0], kernel.name)
            table = tables.get(where) or tables.setdefault(where, Table(*where[:2], kernel))
            row = table.add(param, grad, tensors, param.numel() * kind[1], args)
            updates.append((p_state, current, new_scalars, table, row))
        for table in tables.values():
            table.launch()
        for p_state, current, new_scalars, table, row in updates:
            finish = table.kernel.finish
            if finish is not None:  # scalar state from the tensor's sums (SWATS's switch)
                new_scalars = {**new_scalars, **finish(hp, {**current, **new_scalars}, table.totals[row])}
            for key, value in new_scalars.items():
                stored = p_state.get(key)
                if isinstance(stored, torch.Tensor):
                    stored.fill_(value)
                else:
                    p_state[key] = value
        if leftovers:
            self.reference.step_group(rule, {**group, "params": leftovers}, state)


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


def read_scalars(rule: Rule, p_state: State) -> State:
    """The state as :meth:`FusedKernel.scalars` reads it: the rule's scalars as Python floats.

    Array entries appear as ``True`` (or ``None`` where stored so): the scalars may depend on
    whether a state exists yet (SGD's momentum buffer), never on its values.
    """
    out = {}
    for key, value in p_state.items():
        if key in rule.scalar_state:
            out[key] = value.item() if isinstance(value, torch.Tensor) else value
        else:
            out[key] = None if value is None else True
    return out


def takes(param: torch.Tensor, grad: torch.Tensor) -> bool:
    """Whether the kernels can update ``param`` (of a kernel dtype) with ``grad``."""
    return (
        grad.dtype == param.dtype
        and grad.shape == param.shape
        and plain(param)
        and plain(grad)
        and (param.is_cpu and grad.is_cpu or grad.device == param.device)
    )


def matches(t: torch.Tensor, param: torch.Tensor) -> bool:
    """Whether state tensor ``t`` can be updated beside ``param``."""
    return (
        t.dtype == param.dtype
        and t.shape == param.shape
        and plain(t)
        and (t.is_cpu and param.is_cpu or t.device == param.device)
    )


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
    return None if kernel is None else FusedEngine(kernel)
