"""``RMSprop``: a drop-in replacement for torch.optim.RMSprop, executing :mod:`adamkit.rules.rmsprop`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from ..rules.rmsprop import RMSPROP
from .optimizer import RuleOptimizer


class RMSprop(RuleOptimizer):
    r"""RMSprop (Hinton's lecture 6e), optionally centered and with momentum, as torch.optim.RMSprop.

    .. math::
        v_t = \alpha v_{t-1} + (1-\alpha) g_t^2,\quad
        \theta_t = \theta_{t-1} - \eta\,\frac{g_t}{\sqrt{v_t} + \epsilon}

    With ``centered`` the root is of :math:`v_t - \bar g_t^2` (:math:`\bar g` the running
    mean of the gradient; Graves, 2013); with ``momentum`` :math:`\mu > 0` the scaled
    gradient feeds a buffer :math:`b_t = \mu b_{t-1} + g_t/(\cdot)` and the step is
    :math:`\eta b_t`.

    Args:
        params: parameters or param groups (dicts), as for any torch optimizer.
        lr: learning rate :math:`\eta` (>= 0; a float or a 1-element tensor).
        alpha: decay rate :math:`\alpha` of the mean square (>= 0).
        eps: :math:`\epsilon` added to the root (>= 0).
        weight_decay: L2 penalty added to the gradient (>= 0).
        momentum: momentum factor :math:`\mu` (>= 0).
        centered: divide by the estimated standard deviation of the gradient.
        maximize: ascend the objective instead of descending it.
        fused: ``None`` (default) uses a fused kernel where available, ``False`` the
            readable reference engine, ``True`` insists on a fused kernel (torch's
            RMSprop has no ``fused`` argument; adamkit accepts it for the engine choice).
        state_bits: 32 (default: moments as the parameters), 16 (bfloat16 moments) or 8
            (8-bit blockwise moments, Dettmers et al. 2022); the update is the same,
            only the storage differs: see :mod:`adamkit.torch.lowbit`.
        nonfinite: a NaN or inf in the gradients: "propagate" (default, as torch.optim),
            "skip" the whole step, or "raise": see :mod:`adamkit.torch.nonfinite`.
        capturable, foreach, differentiable: accepted for torch.optim compatibility.

    Example:
        >>> import torch, adamkit.torch as ak
        >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        >>> opt = ak.RMSprop([w], lr=0.01, alpha=0.75)
        >>> (w ** 2).sum().backward(); opt.step()
        >>> w.detach()   # the first step is lr / sqrt(1 - alpha) per coordinate
        tensor([ 0.9800, -1.9800])
    """

    rule = RMSPROP

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float | torch.Tensor = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        *,
        fused: bool | None = None,
        state_bits: int = 32,
        nonfinite: str = "propagate",
    ) -> None:
        super().__init__(**self._arguments(locals()))
