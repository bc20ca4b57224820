"""``SGD``: a drop-in replacement for torch.optim.SGD, executing :mod:`adamkit.rules.sgd`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from ..rules.sgd import SGD as SGD_RULE
from .optimizer import RuleOptimizer


class SGD(RuleOptimizer):
    r"""Stochastic gradient descent with optional (Nesterov) momentum, as torch.optim.SGD.

    .. math::
        b_t = \mu b_{t-1} + (1-\tau) g_t \;(b_1 = g_1),\quad
        \theta_t = \theta_{t-1} - \eta\,(g_t + \mu b_t \text{ if Nesterov else } b_t)

    Robbins and Monro (1951); heavy-ball momentum: Polyak (1964); Nesterov momentum in
    the form of Sutskever et al. (2013). The state holds only ``momentum_buffer``, and
    only when ``momentum != 0``; there is no ``step``.

    Args:
        params: parameters or param groups (dicts), as for any torch optimizer.
        lr: learning rate :math:`\eta` (>= 0; a float or a 1-element tensor).
        momentum: momentum factor :math:`\mu` (>= 0).
        dampening: :math:`\tau`, the share of the gradient kept out of the buffer after
            the first step.
        weight_decay: L2 penalty added to the gradient (>= 0).
        nesterov: Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
        maximize: ascend the objective instead of descending it.
        fused: ``None`` (default) uses a fused kernel where available, ``False`` the
            readable reference engine, ``True`` insists on a fused kernel.
        state_bits: 32 (default: moments as the parameters), 16 (bfloat16 moments) or 8
            (8-bit blockwise moments, Dettmers et al. 2022); the update is the same,
            only the storage differs: see :mod:`adamkit.torch.lowbit`.
        nonfinite: a NaN or inf in the gradients: "propagate" (default, as torch.optim),
            "skip" the whole step, or "raise": see :mod:`adamkit.torch.nonfinite`.
        foreach, differentiable: accepted for torch.optim compatibility.

    Example:
        >>> import torch, adamkit.torch as ak
        >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        >>> opt = ak.SGD([w], lr=0.1, momentum=0.9)
        >>> (w ** 2).sum().backward(); opt.step()
        >>> w.detach()
        tensor([ 0.8000, -1.6000])
    """

    rule = SGD_RULE

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float | torch.Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float | torch.Tensor = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
        state_bits: int = 32,
        nonfinite: str = "propagate",
    ) -> None:
        super().__init__(**self._arguments(locals()))
