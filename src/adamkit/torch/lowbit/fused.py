"""Host side of the fused low-bit Adam/AdamW kernels: which parameters they take, and one call per step.

Per step, in Python, O(1) work per tensor: check that the kernel can take it (float32,
dense, contiguous, on the CPU; its moments stored at the group's precision), compute the
per-step scalars once per distinct ``step`` (:func:`adamkit.torch.kernels.adam.scalars`,
the same host code as the fp32 kernel), and note the addresses. Then one kernel call per
precision updates every tensor, its units of 16,384 values spread over the cores.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ...rules.spec import Rule, State
from ..fit import Checked, plain, takes
from ..fused import bump_versions
from ..kernels.adam import scalars as adam_scalars
from ..kernels.jit import entry_point, run
from . import adam_kernels as kernels
from .codecs import BLOCK, absmax_key, codes_key, rounding_seed
from .engine import fresh_lowbit_state

FLOAT32 = (np.dtype(np.float32), 1)  # what the kernels compute in, reals per element
CPU = ("cpu",)  # the kernels here are numba's: a CUDA tensor takes the reference path
MOMENT_NAMES = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")  # in the kernels' order


def moment_names(hp: dict[str, Any]) -> tuple[str, ...]:
    return MOMENT_NAMES if hp["amsgrad"] else MOMENT_NAMES[:2]


def stored_as(p_state: State, name: str, param: torch.Tensor, precision: int) -> bool:
    """Whether moment ``name`` is stored at ``precision`` in the layout the kernels read."""
    if precision == 16:
        t = p_state.get(name)
        return (
            isinstance(t, torch.Tensor)
            and t.dtype == torch.bfloat16
            and t.shape == param.shape
            and plain(t, CPU)
        )
    codes, absmax = p_state.get(codes_key(name)), p_state.get(absmax_key(name))
    return (
        isinstance(codes, torch.Tensor)
        and isinstance(absmax, torch.Tensor)
        and codes.dtype == torch.uint8
        and codes.shape == param.shape
        and plain(codes, CPU)
        and absmax.dtype == torch.float32
        and absmax.numel() == -(-param.numel() // BLOCK)
        and plain(absmax, CPU)
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
        if not takes(param, grad, CPU):
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
        """One step of ``params`` (all taken by :meth:`takes` at precision ``bits``): one kernel call."""
        addresses, sizes, scalars, seeds, written = [], [], [], [], []
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
            addresses.append([checked.address, param.grad.data_ptr(), *checked.addresses])
            sizes.append(checked.size)
            scalars.append(args)
            seeds.append(step_seeds)
            written.extend(checked.written)
            updates.append((checked, new_scalars))
        launch(bits, addresses, sizes, scalars, seeds, hp["amsgrad"])
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


def launch(precision: int, addresses: list, sizes: list, scalars: list, seeds: list, amsgrad: bool) -> None:
    """One kernel call for a table of tensors: its units of work on this thread, or on as many
    threads as torch uses (:func:`adamkit.torch.kernels.jit.run`, as the fp32 kernels)."""
    size_array = np.array(sizes, np.int64)
    starts = kernels.unit_starts(size_array)
    table = np.array(addresses, np.int64)
    values = np.array(scalars, np.float64).astype(np.float32)  # as torch casts a Python float
    if precision == 8:
        entry, extra = (kernels.adam8_amsgrad_entry if amsgrad else kernels.adam8_entry), None
    else:
        entry, extra = kernels.adam16_entry, np.array(seeds, np.uint64)
    run(entry_point(entry, np.float32), starts, table, size_array, values, kernels.UNIT, extra)
