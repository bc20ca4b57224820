"""Adafactor's fused engine: a param group's step in four passes (one launch each per dtype on the CPU).

The generic fused engine (:mod:`.fused`) gathers tensors whose state is the parameter's shape, in
blocks of elements, with a fixed number of sums per tensor. Adafactor's factors are a matrix's row
and column sums, of the shape of its rows and columns, so its table carries each tensor's layout
and a float64 scratch array, and its passes (:mod:`.kernels.adafactor`) work in units of whole
rows. This engine builds that table, runs the passes, and computes between them, per tensor and
on the host as the rule does, the step size from the sums of squares.

On a CUDA device, where Triton is installed, the same passes run as Triton kernels
(:mod:`adamkit.torch.gpu.adafactor`, from the same :class:`Entry` rows): ``RUNNERS`` says which
function runs each device type's tensors (on CUDA, kernels per tensor: batching them is left to do).

What the kernels cannot take goes to the reference engine, parameter by parameter (``engine_of``
says which ran): a dtype other than float32 and float64, a tensor that is not a plain contiguous
tensor of a device in ``RUNNERS`` (a column-major gradient, a subclass), state of another dtype,
shape or device, and DTensor shards: a shard's rows or columns are a part of the matrix's, so its
factors cannot come from its own sums (the reference engine runs the rule on the DTensors, whose
reductions span the ranks).
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..distributed import is_dtensor
from ..rules.spec import Hyper, Rule, State
from .engine import ReferenceEngine, fresh_state, plain_hyper
from .fit import plain
from .fused import bump_versions, imported
from .kernels import adafactor as kernels
from .kernels import jit

#: The factors' pass runs on the calling thread below this much scratch (float64 values).
FACTORS_PARALLEL_MIN = 1 << 20

#: torch dtype -> the NumPy dtype the kernels compute in
DTYPES = {torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64)}

#: device type -> "module:function" that runs one step of a table of that device's tensors
#: (``function(entries, dtype, hp)``, as :func:`run_passes`)
RUNNERS: dict[str, str] = {"cpu": "adamkit.torch.fused_adafactor:run_passes"}
if importlib.util.find_spec("triton") is not None:  # Triton kernels for CUDA devices
    RUNNERS["cuda"] = "adamkit.torch.gpu.adafactor:run_passes"


@dataclass(frozen=True)
class Pass:
    """One of the kernels' entry points (compiled ahead by ``adamkit kernels``)."""

    name: str
    entry: Any


SUMS = Pass("adafactor-sums", kernels.sums_entry)
FACTORS = Pass("adafactor-factors", kernels.factors_entry)
UPDATE_SUMS = Pass("adafactor-update-sums", kernels.update_sums_entry)
APPLY = Pass("adafactor-apply", kernels.apply_entry)


@dataclass(frozen=True)
class FactoredKernels:
    """What :mod:`.fused`'s registry needs of Adafactor's kernels: their name, their passes, and
    the engine that runs them (:meth:`engine`), in place of the generic one."""

    name: str = "adafactor"
    phases: tuple[Pass, ...] = (SUMS, FACTORS, UPDATE_SUMS, APPLY)

    def for_hyper(self, hp: Hyper) -> FactoredKernels:
        return self

    def supports(self, hp: Hyper) -> bool:
        return True

    def engine(self) -> AdafactorEngine:
        return AdafactorEngine(self)


ADAFACTOR_KERNELS = FactoredKernels()


@dataclass
class Entry:
    """A tensor of the table: what the kernels read and write, and its step count."""

    param: torch.Tensor
    grad: torch.Tensor
    factors: tuple[torch.Tensor, ...]  # (row_var, col_var), or (variance,)
    step: torch.Tensor | None  # None: a Python number in the state
    p_state: State
    layout: tuple[int, int, int, int, int]  # slices, rows, cols (0: a vector), rows per unit, units per slice
    units: int
    scratch: int = 0  # offset of its scratch (matrices)
    written: list[torch.Tensor] = field(default_factory=list)


def layout_of(param: torch.Tensor) -> tuple[tuple[int, int, int, int, int], int]:
    """``param``'s layout in the table and its number of units."""
    n = param.numel()
    if param.dim() < 2:
        return (0, 0, 0, 0, 0), -(-n // jit.BLOCK)
    rows, cols = param.shape[-2], param.shape[-1]
    slices = math.prod(param.shape[:-2])
    unit = kernels.unit_rows(rows, cols)
    units = -(-rows // unit)
    return (slices, rows, cols, unit, units), slices * units


def factor_arrays(p_state: State, param: torch.Tensor) -> tuple[torch.Tensor, ...] | None:
    """The state arrays the kernels update, if they can (None: missing, or not as the rule makes them)."""
    if param.dim() < 2:
        wanted = {"variance": param.shape}
    else:
        row, col = list(param.shape), list(param.shape)
        row[-1] = col[-2] = 1
        wanted = {"row_var": torch.Size(row), "col_var": torch.Size(col)}
    found = []
    for key, shape in wanted.items():
        t = p_state.get(key)
        fit = isinstance(t, torch.Tensor) and t.dtype == param.dtype and t.shape == shape
        if not (fit and plain(t, RUNNERS) and t.device == param.device):
            return None
        found.append(t)
    return tuple(found)


class AdafactorEngine:
    """Runs Adafactor's passes over every parameter they can take; the reference engine on the rest."""

    name = "fused"

    def __init__(self, kernel: FactoredKernels) -> None:
        self.kernel = kernel
        self.reference = ReferenceEngine()
        self.on_reference: set[int] = set()

    def engine_of(self, param: torch.Tensor) -> str:
        return "reference" if id(param) in self.on_reference else self.name

    def step_group(self, rule: Rule, group: dict[str, Any], state: dict) -> None:
        hp = plain_hyper(group)
        tables: dict[tuple[torch.device, np.dtype], list[Entry]] = {}
        leftovers = []
        for param in group["params"]:
            grad = param.grad
            if grad is None:
                continue
            entry = self.entry(rule, param, grad, state[param], hp)
            if entry is None:
                leftovers.append(param)
                continue
            self.on_reference.discard(id(param))
            if param.numel() == 0:  # nothing to factor: only the step count moves, as the rule's
                store_step(entry, step_of(entry) + 1)
                continue
            tables.setdefault((param.device, DTYPES[param.dtype]), []).append(entry)
        for (device, dtype), entries in tables.items():
            imported(RUNNERS[device.type])(entries, dtype, hp)
        if leftovers:
            self.on_reference.update(map(id, leftovers))
            self.reference.step_group(rule, {**group, "params": leftovers}, state)

    def entry(
        self, rule: Rule, param: torch.Tensor, grad: torch.Tensor, p_state: State, hp: Hyper
    ) -> Entry | None:
        """``param``'s row of the table, or None for the reference engine."""
        if (
            is_dtensor(param)
            or param.dtype not in DTYPES
            or grad.dtype != param.dtype
            or grad.shape != param.shape
            or not plain(param, RUNNERS)
            or not plain(grad, RUNNERS)
            or grad.device != param.device
        ):
            return None
        if not p_state:
            p_state.update(fresh_state(rule, param, hp))
        factors = factor_arrays(p_state, param)
        step = p_state.get("step")
        if factors is None or step is None:
            return None
        layout, units = layout_of(param)
        return Entry(
            param, grad, factors, step if isinstance(step, torch.Tensor) else None, p_state, layout, units,
            written=[param, *factors],
        )


def step_of(entry: Entry) -> float:
    return entry.step.item() if entry.step is not None else float(entry.p_state["step"])


def store_step(entry: Entry, step: float) -> None:
    if entry.step is not None:
        entry.step.fill_(step)
    else:
        entry.p_state["step"] = step


def run_passes(entries: list[Entry], dtype: np.dtype, hp: Hyper) -> None:
    """One step of ``entries`` (non-empty tensors of ``dtype``): the passes of :mod:`.kernels.adafactor`."""
    lr, decay, (eps1, eps2), d, wd = hp["lr"], hp["beta2_decay"], hp["eps"], hp["d"], hp["weight_decay"]
    eps1 = float(np.finfo(dtype).eps) if eps1 is None else float(eps1)
    count = len(entries)
    steps = [step_of(e) + 1 for e in entries]
    sizes = np.array([e.param.numel() for e in entries], np.int64)
    addresses = np.zeros((count, kernels.WIDTH), np.int64)
    scalars = np.zeros((count, kernels.SCALARS))
    scratch_size = 0
    for t, e in enumerate(entries):
        slices, rows, cols, unit, units = e.layout
        factors = [f.data_ptr() for f in e.factors]
        addresses[t, : 4] = [e.param.data_ptr(), e.grad.data_ptr(), factors[0], factors[-1] if cols else 0]
        addresses[t, kernels.SLICES :] = e.layout
        if cols:
            e.scratch = scratch_size
            scratch_size += kernels.scratch_size(slices, rows, cols, units)
        scalars[t, kernels.ROWS_REAL] = rows
        scalars[t, kernels.COLS_REAL] = cols
    scratch = np.empty(scratch_size)
    for t, e in enumerate(entries):
        if e.layout[2]:
            addresses[t, kernels.SCRATCH] = scratch.ctypes.data + 8 * e.scratch
    scalars[:, kernels.SIGN] = -1.0 if hp["maximize"] else 1.0
    scalars[:, kernels.WEIGHT] = [step**decay for step in steps]  # 1 - beta2_t, as the rule's Python pow
    scalars[:, kernels.EPS1] = eps1
    scalars[:, kernels.FLOOR] = eps1 * eps1
    scalars[:, kernels.DECAY] = 1 - lr * wd if wd != 0 else 1.0
    table = np.ascontiguousarray(scalars.astype(dtype))  # as torch casts a Python float
    starts = np.zeros(count + 1, np.int64)  # each tensor's first unit
    np.cumsum([e.units for e in entries], out=starts[1:])
    sums = np.zeros((int(starts[-1]), 2))
    one_each = np.arange(count + 1, dtype=np.int64)

    def launch(kernel: Pass, unit_starts: np.ndarray, extra: np.ndarray | None = None, small: bool = False):
        entry = jit.entry_point(kernel.entry, dtype)
        arguments = jit.table_arguments(entry, unit_starts, addresses, sizes, table, jit.BLOCK, extra)
        jit.call(arguments, small or sizes.sum() < jit.PARALLEL_MIN)

    launch(SUMS, starts, sums)
    # O(rows + columns x units) per matrix, one unit each: on this thread unless there is much of it
    # (under load, waking another core for a few microseconds of work waited milliseconds for it)
    launch(FACTORS, one_each, small=scratch_size < FACTORS_PARALLEL_MIN)
    launch(UPDATE_SUMS, starts, sums)
    totals = jit.tensor_totals(sums, starts)
    # the rule's step size, per tensor, in float64 as its Python floats (max(a, x) is a for a NaN x)
    root_n = np.sqrt(sizes.astype(np.float64))
    with np.errstate(all="ignore"):
        rho = np.array([min(lr, 1 / math.sqrt(step)) for step in steps])
        param_rms = np.sqrt(totals[:, 0]) / root_n
        alpha = np.where(param_rms > eps2, param_rms, eps2) * rho
        clip = (np.sqrt(totals[:, 1]) / root_n) / d
        clip = np.where(clip > 1.0, clip, 1.0)
        table[:, kernels.STEP_SIZE] = (alpha / clip).astype(dtype)
    launch(APPLY, starts)
    bump_versions([t for e in entries for t in e.written])
    for e, step in zip(entries, steps, strict=True):
        store_step(e, float(step))
