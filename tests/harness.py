"""A deterministic training problem run identically through different optimizers.

Two param groups with different learning rates, a zero-size parameter, and one
parameter whose gradient is missing on some steps. The gradients depend on the
parameters (a quartic bowl plus fixed per-step noise), so any difference in an
update shows up in all later steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

SHAPES = [[(4, 3), (3,), (0, 2)], [(5,), (2, 2)]]
NO_GRAD_EVERY = 7  # the last parameter has no gradient on steps where step % 7 == 3


def initial_params(dtype: torch.dtype = torch.float64, seed: int = 0) -> list[list[torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    return [[torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for s in group] for group in SHAPES]


def gradients(step: int, params: list[torch.Tensor]) -> list[torch.Tensor | None]:
    """Gradient of sum(0.5*p**2 + 0.05*p**4) plus noise fixed by the step number."""
    gen = torch.Generator().manual_seed(1000 + step)
    grads: list[torch.Tensor | None] = []
    for _i, p in enumerate(params):
        noise = torch.randn(p.shape, generator=gen, dtype=torch.float64).to(p.dtype)
        grads.append(p + 0.2 * p**3 + 0.3 * noise)
    if step % NO_GRAD_EVERY == 3:
        grads[-1] = None
    return grads


def groups_for(params: list[list[torch.Tensor]], kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """Group 0 uses the case's lr (or the default); group 1 half of it."""
    lr = kwargs.get("lr")
    second: dict[str, Any] = {"params": params[1]}
    if lr is not None:
        second["lr"] = lr / 2
    else:
        second["lr_scale"] = 0.5
    return [{"params": params[0]}, second]


def make_torch_run(
    opt_factory: Callable[..., torch.optim.Optimizer],
    kwargs: dict[str, Any],
    dtype: torch.dtype = torch.float64,
) -> tuple[list[torch.Tensor], torch.optim.Optimizer]:
    params = [[p.clone().requires_grad_(True) for p in group] for group in initial_params(dtype)]
    groups = groups_for(params, kwargs)
    for g in groups:  # the default lr halves in group 1 when the case keeps the default
        if g.pop("lr_scale", None):
            probe = opt_factory([torch.zeros(1, dtype=dtype, requires_grad=True)], **kwargs)
            g["lr"] = probe.defaults["lr"] / 2
    opt = training(opt_factory(groups, **kwargs))
    return [p for group in params for p in group], opt


def training(opt: Any) -> Any:
    """``opt`` ready to step: Schedule-Free optimizers start in eval mode and step in train mode only."""
    if hasattr(opt, "train"):
        opt.train()
    return opt


def torch_steps(params: list[torch.Tensor], opt: torch.optim.Optimizer, steps: int, start: int = 0) -> None:
    for step in range(start, start + steps):
        with torch.no_grad():
            grads = gradients(step, [p.detach() for p in params])
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        opt.step()


def numpy_steps(params: list[np.ndarray], opt: Any, steps: int) -> None:
    for step in range(steps):
        grads = gradients(step, [torch.from_numpy(p) for p in params])
        opt.step([None if g is None else g.numpy() for g in grads])


def rel_diff(a: Any, b: Any) -> float:
    """max |a - b| / max |b|: relative to the tensor's scale, safe for entries near zero."""
    a = torch.as_tensor(a).to(torch.complex128 if torch.as_tensor(a).is_complex() else torch.float64)
    b = torch.as_tensor(b).to(a.dtype)
    if a.numel() == 0:
        return 0.0
    scale = b.abs().max().item()
    return (a - b).abs().max().item() / max(scale, 1e-30)


def state_diffs(
    ours: torch.optim.Optimizer, theirs: torch.optim.Optimizer, params_a, params_b
) -> dict[str, float]:
    """Relative difference of every parameter and every state entry, keyed by name."""
    out = {}
    for i, (pa, pb) in enumerate(zip(params_a, params_b, strict=True)):
        out[f"param{i}"] = rel_diff(pa.detach(), pb.detach())
        sa, sb = ours.state[pa], theirs.state[pb]
        assert set(sa) >= set(sb), f"param{i}: state keys {sorted(sa)} lack {sorted(set(sb) - set(sa))}"
        for key in sb:
            out[f"param{i}.{key}"] = rel_diff(sa[key], sb[key])
    return out
