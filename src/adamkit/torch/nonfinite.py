"""What a step does with a NaN or an infinity in the gradients: the ``nonfinite=`` policy.

* ``"propagate"`` (default): the step runs; non-finite values flow into exactly the parameters
  and state torch.optim would make non-finite. No check, no cost.
* ``"skip"``: the whole step is skipped (every parameter and every state tensor keeps its bits,
  the step counters included); :attr:`RuleOptimizer.skipped_steps` counts such steps and the
  first one warns.
* ``"raise"``: ``FloatingPointError`` naming the param group and the parameter's index in it;
  nothing has changed.

The check reads each gradient once: one ``torch._foreach_norm(grads)`` per group (a norm is
NaN or inf when a value is; an overflowing norm of huge finite gradients is then settled by an
exact test), and one host synchronisation per group. With :class:`torch.amp.GradScaler` it is
never triggered by an overflow: the scaler checks the unscaled gradients itself and does not call
``step`` when they are not finite.
"""

from __future__ import annotations

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
        norms = _norms([g for g in grads if g.numel()])
        if not norms:
            verdicts.append(None)
            continue
        try:
            verdicts.append(torch.isfinite(torch.stack(norms)).all())
        except RuntimeError:  # gradients on several devices: one verdict per tensor
            verdicts.append(all(bool(torch.isfinite(n)) for n in norms))
    for group_index, (group, verdict) in enumerate(zip(param_groups, verdicts, strict=True)):
        if verdict is None or bool(verdict):  # the host waits here, once per group
            continue
        # A norm is NaN or inf when a value is, and also when a huge finite gradient overflows its
        # sum of squares: the exact test decides, tensor by tensor (only once something looks wrong).
        for index, param in enumerate(group["params"]):
            grad = param.grad
            if grad is not None and not bool(torch.isfinite(_grad_values(grad)).all()):
                return group_index, index
    return None


def _norms(grads: list[torch.Tensor]) -> list[torch.Tensor]:
    """The 2-norm of each gradient, as float32 or wider: one read of each, the fastest reduction
    torch has for a list (``torch._foreach_norm``; the infinity norm is several times slower)."""
    half = [g for g in grads if g.dtype in (torch.float16, torch.bfloat16)]
    rest = [g for g in grads if g.dtype not in (torch.float16, torch.bfloat16)]
    norms = list(torch._foreach_norm(half, 2, dtype=torch.float32)) if half else []  # float16 would overflow
    if rest:
        norms += [n.to(torch.float64) for n in torch._foreach_norm(rest, 2)]
    return norms


def describe(where: tuple[int, int], param_groups: list[dict[str, Any]]) -> str:
    group, index = where
    param = param_groups[group]["params"][index]
    return f"param group {group}, parameter {index} (shape {tuple(param.shape)}, dtype {param.dtype})"
