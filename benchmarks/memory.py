"""Resident memory: the peak a single optimizer step adds, and the optimizer state's size.

Linux keeps a process's peak resident set (``VmHWM``) and resets it to the current
size when ``5`` is written to ``/proc/self/clear_refs``; the step's transient memory is
the peak after one step minus the size before it. Elsewhere the figure is ``None``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

import torch


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def step_peak_bytes(step: Callable[[], object]) -> int | None:
    """How far above its size before the step the process's resident memory rose during ``step()``."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        before = _status_kib("VmRSS")
    except OSError:
        return None
    step()
    return max(0, _status_kib("VmHWM") - before) * 1024


def state_bytes(opt: torch.optim.Optimizer) -> int:
    """Bytes held in the optimizer's per-parameter state (tensors only, scalars included)."""
    total = 0
    for state in opt.state.values():
        for value in state.values():
            if isinstance(value, torch.Tensor):
                total += value.numel() * value.element_size()
    return total
