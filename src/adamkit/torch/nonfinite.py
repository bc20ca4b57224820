"""What a step does with a NaN or an infinity in the gradients: the ``nonfinite=`` policy.

* ``"propagate"`` (default): the step runs; non-finite values flow into exactly the parameters
  and state torch.optim would make non-finite. No check, no cost.
* ``"skip"``: the whole step is skipped (every parameter and every state tensor keeps its bits,
  the step counters included); :attr:`RuleOptimizer.skipped_steps` counts such steps and the
  first one warns.
* ``"raise"``: ``FloatingPointError`` naming the param group and the parameter's index in it;
  nothing has changed.

The check reads each gradient once: one ``torch._foreach_norm(grads, inf)`` per group (the
largest magnitude of each tensor, NaN if it holds one), and one host synchronisation for the
whole step. With :class:`torch.amp.GradScaler` it is never triggered by an overflow: the scaler
checks the unscaled gradients itself and does not call ``step`` when they are not finite.
"""

from __future__ import annotations

import math
from typing import Any

import torch

NONFINITE = ("propagate", "skip", "raise")


def check_policy(value: Any) -> None:
    """Raise ``ValueError`` naming ``nonfinite`` unless ``value`` is one of :data:`NONFINITE`."""
    if not isinstance(value, str) or value not in NONFINITE:
        allowed = ", ".join(repr(v) for v in NONFINITE)
        raise ValueError(f"Invalid nonfinite (nonfinite): {value!r} (must be one of {allowed})")


def _grad_values(grad: torch.Tensor) -> torch.Tensor:
    """The stored values of a gradient: a sparse gradient's present entries only."""
    if grad.is_sparse:
        return grad.coalesce()._values()
    return grad


def first_nonfinite(param_groups: list[dict[str, Any]]) -> tuple[int, int] | None:
    """``(group index, index in the group)`` of the first gradient with a NaN or an infinity, or None."""
    verdicts = []  # per group: a 0-dim bool tensor "all finite", computed where the gradients are
    for group in param_groups:
        grads = [_grad_values(p.grad) for p in group["params"] if p.grad is not None]
        grads = [g for g in grads if g.numel()]
        if not grads:
            verdicts.append(None)
            continue
        # one read of each gradient: its largest magnitude is NaN or inf exactly when one value is
        peaks = torch._foreach_norm(grads, math.inf)
        try:  # float64: a float64 gradient of 1e300 is finite, its peak must stay so
            verdicts.append(torch.isfinite(torch.stack([p.to(torch.float64) for p in peaks])).all())
        except RuntimeError:  # gradients on several devices: one verdict per tensor
            verdicts.append(all(bool(torch.isfinite(p).all()) for p in peaks))
    for group_index, (group, verdict) in enumerate(zip(param_groups, verdicts, strict=True)):
        if verdict is None or bool(verdict):  # the host waits here, once per group
            continue
        for index, param in enumerate(group["params"]):  # slow path: only once something is wrong
            grad = param.grad
            if grad is not None and not bool(torch.isfinite(_grad_values(grad)).all()):
                return group_index, index
    return None


def describe(where: tuple[int, int], param_groups: list[dict[str, Any]]) -> str:
    group, index = where
    param = param_groups[group]["params"][index]
    return f"param group {group}, parameter {index} (shape {tuple(param.shape)}, dtype {param.dtype})"
