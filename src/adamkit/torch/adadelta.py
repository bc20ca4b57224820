"""``Adadelta``: a drop-in replacement for torch.optim.Adadelta, executing :mod:`adamkit.rules.adadelta`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from ..rules.adadelta import ADADELTA
from .optimizer import RuleOptimizer


class Adadelta(RuleOptimizer):
    r"""Adadelta (Zeiler, 2012), as torch.optim.Adadelta.

    .. math::
        v_t = \rho v_{t-1} + (1-\rho) g_t^2,\quad
        \Delta_t = \frac{\sqrt{u_{t-1}+\epsilon}}{\sqrt{v_t+\epsilon}}\, g_t,\quad
        u_t = \rho u_{t-1} + (1-\rho)\Delta_t^2,\quad
        \theta_t = \theta_{t-1} - \eta\,\Delta_t

    Args:
        params: parameters or param groups (dicts), as for any torch optimizer.
        lr: a multiplier :math:`\eta` of the step (>= 0; the paper has none, i.e. 1).
        rho: decay rate :math:`\rho` of both running means, in [0, 1].
        eps: :math:`\epsilon` inside both roots (>= 0); it sets the first steps' size.
        weight_decay: L2 penalty added to the gradient (>= 0).
        maximize: ascend the objective instead of descending it.
        fused: ``None`` (default) uses a fused kernel where available, ``False`` the
            readable reference engine, ``True`` insists on a fused kernel (torch's
            Adadelta has no ``fused`` argument; adamkit accepts it for the engine choice).
        state_bits: 32 (default: moments as the parameters), 16 (bfloat16 moments) or 8
            (8-bit blockwise moments, Dettmers et al. 2022); the update is the same,
            only the storage differs: see :mod:`adamkit.torch.lowbit`.
        nonfinite: a NaN or inf in the gradients: "propagate" (default, as torch.optim),
            "skip" the whole step, or "raise": see :mod:`adamkit.torch.nonfinite`.
        foreach, capturable, differentiable: accepted for torch.optim compatibility.

    Example:
        >>> import torch, adamkit.torch as ak
        >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        >>> opt = ak.Adadelta([w], eps=1e-4)
        >>> (w ** 2).sum().backward(); opt.step()
        >>> w.detach()   # about sqrt(eps / (1 - rho)) per coordinate
        tensor([ 0.9684, -1.9684])
    """

    rule = ADADELTA

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float | torch.Tensor = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        state_bits: int = 32,
        nonfinite: str = "propagate",
    ) -> None:
        super().__init__(**self._arguments(locals()))
