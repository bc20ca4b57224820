"""``Adamax``: a drop-in replacement for torch.optim's, executing :mod:`adamkit.rules.adamax`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from ..rules.adamax import ADAMAX
from .optimizer import RuleOptimizer


class Adamax(RuleOptimizer):
    r"""Adamax (Kingma and Ba, 2015, Section 7.1), with torch.optim.Adamax's arguments and state.

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad
        u_t = \max(\beta_2 u_{t-1}, |g_t| + \epsilon),\quad
        \theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\frac{m_t}{u_t}

    State: ``step``, ``exp_avg`` (:math:`m`), ``exp_inf`` (:math:`u`).

    Args:
        params: parameters or param groups (dicts), as for any torch optimizer.
        lr: learning rate :math:`\eta` (>= 0; a float or a 1-element tensor).
        betas: decay rates :math:`(\beta_1, \beta_2)` of the moment and the infinity norm, each in [0, 1).
        eps: :math:`\epsilon`, the floor inside the maximum (>= 0).
        weight_decay: L2 penalty added to the gradient (>= 0).
        foreach: accepted for torch.optim compatibility (positional, as in torch).
        maximize: ascend the objective instead of descending it.
        fused: ``None`` (default) uses a fused engine where one exists, ``False`` the
            readable reference engine, ``True`` insists on a fused one. (torch.optim.Adamax
            has no ``fused`` argument; adamkit accepts it for the engine choice.)
        state_bits: 32 (default: moments as the parameters), 16 (bfloat16 moments) or 8
            (8-bit blockwise moments, Dettmers et al. 2022); the update is the same,
            only the storage differs: see :mod:`adamkit.torch.lowbit`.
        nonfinite: a NaN or inf in the gradients: "propagate" (default, as torch.optim),
            "skip" the whole step, or "raise": see :mod:`adamkit.torch.nonfinite`.
        capturable, differentiable: accepted for torch.optim compatibility.

    Example:
        >>> import torch, adamkit.torch as ak
        >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        >>> opt = ak.Adamax([w], lr=0.1)
        >>> (w ** 2).sum().backward(); opt.step()
        >>> w.detach()
        tensor([ 0.9000, -1.9000])
    """

    rule = ADAMAX

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float | torch.Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
        fused: bool | None = None,
        state_bits: int = 32,
        nonfinite: str = "propagate",
    ) -> None:
        super().__init__(**self._arguments(locals()))
