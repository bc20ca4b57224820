"""Fused engines: a whole param group updated by one compiled call, in one pass over memory.

``engine_for(rule)`` is the registry :func:`adamkit.torch.optimizer.choose_engine` asks:
it returns a :class:`FusedEngine` where a kernel family exists for the rule and numba
is installed, else ``None`` (the reference engine).

Per step, the engine does in Python only O(1) work per tensor: check that the kernels
can take it, compute its scalars (bias corrections, step) in float64 from the group's
hyperparameters as the rule does (once per distinct ``step``), and note the addresses
of its arrays. Then one kernel call per dtype updates every tensor of the group, its
blocks spread over the cores (:mod:`adamkit.torch.kernels.jit`).

A parameter the kernels cannot take (float16 or bfloat16, a non-contiguous or sparse
gradient, another device, a tensor subclass, state of another dtype) goes to the
reference engine, parameter by parameter. Results and state are the same either way,
and so are the ``state_dict`` keys and dtypes, so engines can be switched at any point
of a training run.

Devices: this engine runs CPU tensors with numba. A GPU engine (Triton kernels over
the same :class:`~adamkit.torch.kernels.contract.FusedKernel` host code: the table of
addresses, sizes and scalars is device-neutral) would register beside it in
:func:`engine_for`; parameters on a device without kernels use the reference engine.
"""

from __future__ import annotations

import importlib
import importlib.util
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
}

#: torch dtype -> (NumPy dtype the kernel computes in, reals per element)
KERNEL_DTYPES = {
    torch.float32: (np.dtype(np.float32), 1),
    torch.float64: (np.dtype(np.float64), 1),
    torch.complex64: (np.dtype(np.float32), 2),  # complex: the real and imaginary parts, as torch
    torch.complex128: (np.dtype(np.float64), 2),
}
PLAIN_TENSORS = (torch.Tensor, torch.nn.Parameter)


def plain(t: torch.Tensor) -> bool:
    """Dense, contiguous, on the CPU, no lazy conjugate/negative bit, not a tensor subclass."""
    return (
        type(t) in PLAIN_TENSORS
        and t.is_cpu
        and t.layout == torch.strided
        and t.is_contiguous()
        and not t.is_conj()
        and not t.is_neg()
    )


class Table:
    """The tensors of one dtype in a group: what one kernel call updates."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype
        self.addresses: list[list[int]] = []
        self.sizes: list[int] = []
        self.scalars: list[tuple] = []

    def add(self, tensors: list[torch.Tensor | None], size: int, scalars: tuple) -> None:
        self.addresses.append([0 if t is None else t.data_ptr() for t in tensors])
        self.sizes.append(size)
        self.scalars.append(scalars)

    def launch(self, kernel: Any) -> None:
        from .kernels.jit import launch

        sizes = np.array(self.sizes, np.int64)
        addresses = np.array(self.addresses, np.int64)
        scalars = np.array(self.scalars, np.float64).astype(self.dtype)  # as torch casts a Python float
        launch(kernel, addresses, sizes, scalars)


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
        tables: dict[np.dtype, Table] = {}
        memo: dict[tuple, tuple] = {}  # scalars() once per distinct scalar state
        updates: list[tuple[State, State]] = []
        leftovers = []
        for param in group["params"]:
            grad = param.grad
            if grad is None:
                continue
            if not takes(param, grad):
                leftovers.append(param)
                continue
            p_state = state[param]
            if not p_state:
                p_state.update(fresh_state(rule, param, hp))
            current = {
                key: value.item() if key in rule.scalar_state and isinstance(value, torch.Tensor) else value
                for key, value in p_state.items()
            }
            key = tuple((k, current[k] if k in rule.scalar_state else current[k] is None) for k in current)
            if key not in memo:
                memo[key] = self.kernel.scalars(hp, current)
            args, new_scalars = memo[key]
            try:
                tensors = self.kernel.arrays(p_state, param, hp)
            except KeyError:  # state from elsewhere lacks a key: the reference engine explains
                leftovers.append(param)
                continue
            if not all(t is None or matches(t, param) for t in tensors):
                leftovers.append(param)
                continue
            kind, reals = KERNEL_DTYPES[param.dtype]
            table = tables.get(kind) or tables.setdefault(kind, Table(kind))
            table.add([param, grad, *tensors], param.numel() * reals, args)
            updates.append((p_state, new_scalars))
        for table in tables.values():
            table.launch(self.kernel)
        for p_state, new_scalars in updates:
            for key, value in new_scalars.items():
                if isinstance(p_state.get(key), torch.Tensor):
                    p_state[key].fill_(value)
                else:
                    p_state[key] = value
        if leftovers:
            self.reference.step_group(rule, {**group, "params": leftovers}, state)


def takes(param: torch.Tensor, grad: torch.Tensor) -> bool:
    """Whether the kernels can update ``param`` with ``grad``."""
    return (
        param.dtype in KERNEL_DTYPES
        and grad.dtype == param.dtype
        and grad.shape == param.shape
        and plain(param)
        and plain(grad)
    )


def matches(t: torch.Tensor, param: torch.Tensor) -> bool:
    """Whether state tensor ``t`` can be updated beside ``param``."""
    return t.dtype == param.dtype and t.shape == param.shape and plain(t)


def kernel_for(rule: Rule) -> Any | None:
    """The kernel family registered for ``rule`` (imports numba), or None."""
    target = KERNELS.get(rule.name)
    if target is None or importlib.util.find_spec("numba") is None:
        return None
    module, attribute = target.split(":")
    return getattr(importlib.import_module(module), attribute)


def engine_for(rule: Rule) -> Engine | None:
    """The fused engine for ``rule`` on this machine, or None to use the reference engine."""
    kernel = kernel_for(rule)
    return None if kernel is None else FusedEngine(kernel)
