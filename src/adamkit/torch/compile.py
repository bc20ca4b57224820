"""``torch.compile`` and the optimizer step: the step always runs eagerly, outside the graph.

A compiled training step (``torch.compile`` of a function that calls ``opt.step()``, or
``torch.compile(opt.step)``) breaks its graph at the step on purpose: TorchDynamo compiles
the forward and backward around it, and the step itself runs exactly as in eager mode,
for every engine and state precision. Step counters, schedulers and state are then those
of eager mode by construction, and the step costs what it costs eagerly (the boundary
adds about a microsecond).

Why not trace the step: neither engine is something Dynamo can trace faithfully.

* The fused engine hands raw memory addresses of the tensors to numba kernels; traced,
  its host code runs on fake tensors and NumPy arrays rewritten by Dynamo, and the kernels
  then wrote to invalid addresses (the process died with a segmentation fault).
* The reference engine reads scalar state (``step``) as Python floats, the way the rules
  are written. Dynamo turns a float that changes between calls into a symbolic input, and
  on torch 2.13 a recompiled frame baked one step's value (2.0) into a reused graph
  without a guard on it: under the inductor backend the step counters stuck at 2 and the
  bias corrections with them, silently.

``fullgraph=True`` cannot hold a graph break, so a compiled region with ``fullgraph=True``
that calls ``opt.step()`` fails with Dynamo's error instead of running wrong.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import torch

Step = TypeVar("Step", bound=Callable[..., Any])


def eager_step(step: Step) -> Step:
    """Decorate an optimizer's ``step``: it runs outside any ``torch.compile`` graph, with
    autograd recording only when the optimizer was built with ``differentiable=True`` (as
    torch.optim's steps: under ``no_grad`` otherwise)."""

    @functools.wraps(step)
    def run_step(self: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> Any:
        recording = bool(self.defaults.get("differentiable", False))
        was = torch.is_grad_enabled()
        if was == recording:
            return step(self, *args, **kwargs)
        # what ``with torch.set_grad_enabled(recording)`` does, without its object (a microsecond a step)
        torch._C._set_grad_enabled(recording)
        try:
            return step(self, *args, **kwargs)
        finally:
            torch._C._set_grad_enabled(was)

    # recursive: nothing the step calls (rules, engines, kernels) is traced either
    return torch.compiler.disable(run_step, recursive=True)  # type: ignore[return-value]
