"""Host side of the fused low-bit Adam/AdamW kernels: which parameters they take, and one call per step.

Per step, in Python, O(1) work per tensor: check that the kernel can take it (float32,
dense, contiguous, on a device with kernels; its moments stored at the group's precision
on the same device), compute the per-step scalars once per distinct ``step``
(:func:`adamkit.torch.kernels.adam.scalars`, the same host code as the fp32 kernel), and
note the addresses. Then one kernel call per device updates every tensor there: on the
CPU, the numba kernels of :mod:`.adam_kernels`, units of 16,384 values spread over the
cores; on CUDA devices (with Triton), :mod:`adamkit.torch.gpu.lowbit`.
"""

from __future__ import annotations

import importlib.util
from collections import defaultdict
from typing import Any

import numpy as np
import torch

from ...rules.spec import Rule, State
from ..fit import Checked, plain, takes
from ..fused import bump_versions, imported
from ..kernels.adam import scalars as adam_scalars
from ..kernels.jit import entry_point, run
from . import adam_kernels as kernels
from .codecs import BLOCK, absmax_key, codes_key, rounding_seed
from .engine import fresh_lowbit_state

FLOAT32 = (np.dtype(np.float32), 1)  # what the kernels compute in, reals per element
#: device type -> "module:function" running a table of that device's tensors (as the fp32 engine's
#: :data:`adamkit.torch.fused.LAUNCHERS`); tensors elsewhere take the reference path
LAUNCHERS: dict[str, str] = {"cpu": "adamkit.torch.lowbit.fused:launch_cpu"}
if importlib.util.find_spec("triton") is not None:
    LAUNCHERS["cuda"] = "adamkit.torch.gpu.lowbit:launch"
MOMENT_NAMES = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")  # in the kernels' order


def moment_names(hp: dict[str, Any]) -> tuple[str, ...]:
    return MOMENT_NAMES if hp["amsgrad"] else MOMENT_NAMES[:2]


def beside(t: Any, param: torch.Tensor) -> bool:
    """Whether ``t`` is a plain tensor on ``param``'s device, which has kernels."""
    return isinstance(t, torch.Tensor) and plain(t, LAUNCHERS) and t.device == param.device


def stored_as(p_state: State, name: str, param: torch.Tensor, precision: int) -> bool:
    """Whether moment ``name`` is stored at ``precision`` in the layout the kernels read."""
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


class AdamLowBit:
    """The fused 16-bit and 8-bit Adam/AdamW kernels (:mod:`.adam_kernels`) and their host code.

    One instance per optimizer: it keeps a :class:`..fit.Checked` record of each parameter
    it took, so that later steps only confirm nothing was swapped (see :mod:`..fit`).
    """

    name = "adam"

    def __init__(self) -> None:
        self.checked: dict[int, Checked] = {}  # by id(param)

    def takes(self, param: torch.Tensor, p_state: State, hp: dict[str, Any], precision: int) -> bool:
        grad = param.grad
        checked = self.checked.get(id(param))
        if checked is not None:
            if checked.scalar_values(param, grad, p_state) is not None and self.holds(
                checked, p_state, hp, precision
            ):
                return True
            del self.checked[id(param)]  # something was swapped: checked again in full
        if precision not in (8, 16) or param.dtype != torch.float32 or hp.get("differentiable", False):
            return False
        if not takes(param, grad, LAUNCHERS):
            return False
        if not p_state:  # created at the first step, in the kernels' layout
            return True
        return "step" in p_state and all(stored_as(p_state, n, param, precision) for n in moment_names(hp))

    def holds(self, checked: Checked, p_state: State, hp: dict[str, Any], precision: int) -> bool:
        try:
            return checked.holds(self, arrays(p_state, hp, precision))
        except KeyError:  # moments stored at another precision
            return False

    def step(
        self, rule: Rule, params: list[torch.Tensor], hp: dict[str, Any], state: dict, bits: int
    ) -> None:
        """One step of ``params`` (all taken by :meth:`takes` at precision ``bits``): one kernel call
        per device."""
        tables: dict[torch.device, Table] = defaultdict(Table)
        written = []
        memo: dict[float, tuple] = {}  # the scalars and rounding seeds, once per distinct step
        updates = []
        for param in params:
            p_state = state[param]
            if not p_state:
                p_state.update(fresh_lowbit_state(rule, param.detach(), hp, bits))
            checked = self.checked.get(id(param))
            if checked is None:
                tensors = arrays(p_state, hp, bits)
                checked = self.checked[id(param)] = Checked(rule, param, p_state, self, tensors, FLOAT32)
            step = checked.value("step")
            if step not in memo:
                args, new_scalars = adam_scalars(hp, {"step": step})
                memo[step] = args, new_scalars, [rounding_seed(new_scalars["step"], n) for n in MOMENT_NAMES]
            args, new_scalars, step_seeds = memo[step]
            table = tables[param.device]
            table.addresses.append([checked.address, param.grad.data_ptr(), *checked.addresses])
            table.sizes.append(checked.size)
            table.scalars.append(args)
            table.seeds.append(step_seeds)
            written.extend(checked.written)
            updates.append((checked, new_scalars))
        for device, table in tables.items():
            table.launch(device, bits, hp["amsgrad"])
        bump_versions(written)  # the kernels wrote the parameters and moments behind autograd's back
        for checked, new_scalars in updates:
            checked.store(new_scalars)


def arrays(p_state: State, hp: dict[str, Any], precision: int) -> tuple[torch.Tensor | None, ...]:
    """The moment tensors in the kernels' order (``None`` for AMSGrad's when off): per moment its
    bfloat16 tensor (16 bits), or its codes and absmax (8 bits)."""
    out: list[torch.Tensor | None] = []
    used = moment_names(hp)
    for name in MOMENT_NAMES:
        if precision == 16:
            out.append(p_state[name] if name in used else None)
        else:
            out += [p_state[codes_key(name)], p_state[absmax_key(name)]] if name in used else [None, None]
    return tuple(out)


class Table:
    """The tensors of one device that one kernel call updates: a row each."""

    def __init__(self) -> None:
        self.addresses: list[list[int]] = []
        self.sizes: list[int] = []
        self.scalars: list[tuple] = []
        self.seeds: list[list[int]] = []

    def launch(self, device: torch.device, precision: int, amsgrad: bool) -> None:
        """Run the table with its device's launcher (:data:`LAUNCHERS`)."""
        imported(LAUNCHERS[device.type])(
            precision,
            np.array(self.addresses, np.int64),
            np.array(self.sizes, np.int64),
            np.array(self.scalars, np.float64).astype(np.float32),  # as torch casts a Python float
            np.array(self.seeds, np.uint64),
            amsgrad,
            device,
        )


def launch_cpu(
    precision: int,
    addresses: np.ndarray,
    sizes: np.ndarray,
    scalars: np.ndarray,
    seeds: np.ndarray,
    amsgrad: bool,
    device: torch.device,
) -> None:
    """One numba kernel call for a table of CPU tensors: its units of work on this thread, or on as
    many threads as torch uses (:func:`adamkit.torch.kernels.jit.run`, as the fp32 kernels).

    The table's rows (``addresses``, ``scalars`` in float32, ``seeds``: the moments' rounding
    seeds) are laid out as :mod:`.adam_kernels` says; every launcher reads them so.
    """
    starts = kernels.unit_starts(sizes)
    if precision == 8:
        entry, extra = (kernels.adam8_amsgrad_entry if amsgrad else kernels.adam8_entry), None
    else:
        entry, extra = kernels.adam16_entry, seeds
    run(entry_point(entry, np.float32), starts, addresses, sizes, scalars, kernels.UNIT, extra)
