"""``NAdam``: a drop-in replacement for torch.optim's, executing :mod:`adamkit.rules.nadam`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from ..rules.nadam import NADAM
from .optimizer import RuleOptimizer


class NAdam(RuleOptimizer):
    r"""NAdam (Dozat, 2016): Adam with Nesterov momentum, with torch.optim.NAdam's arguments and state.

    .. math::
        \mu_t = \beta_1(1 - \tfrac12 0.96^{t\psi}),\quad
        \theta_t = \theta_{t-1}
            - \eta\frac{1-\mu_t}{1-\prod_{i\le t}\mu_i}\frac{g_t}{d_t}
            - \eta\frac{\mu_{t+1}}{1-\prod_{i\le t+1}\mu_i}\frac{m_t}{d_t},\quad
        d_t = \sqrt{v_t/(1-\beta_2^t)} + \epsilon

    with :math:`m_t, v_t` Adam's moments. State: ``step``, ``mu_product`` (a 0-dim
    tensor, as torch stores it), ``exp_avg``, ``exp_avg_sq``.

    Args:
        params: parameters or param groups (dicts), as for any torch optimizer.
        lr: learning rate :math:`\eta` (>= 0; a float or a 1-element tensor).
        betas: decay rates :math:`(\beta_1, \beta_2)` of the two moments, each in [0, 1).
        eps: :math:`\epsilon` added to the bias-corrected root (>= 0).
        weight_decay: L2 penalty added to the gradient, or decoupled decay (>= 0).
        momentum_decay: :math:`\psi`, how fast :math:`\mu_t` warms up to :math:`\beta_1` (>= 0).
        decoupled_weight_decay: shrink the parameters by :math:`1 - \eta\lambda` (NAdamW).
        maximize: ascend the objective instead of descending it.
        fused: ``None`` (default) uses a fused engine where one exists, ``False`` the
            readable reference engine, ``True`` insists on a fused one. (torch.optim.NAdam
            has no ``fused`` argument; adamkit accepts it for the engine choice.)
        state_bits: 32 (default: moments as the parameters), 16 (bfloat16 moments) or 8
            (8-bit blockwise moments, Dettmers et al. 2022); the update is the same,
            only the storage differs: see :mod:`adamkit.torch.lowbit`.
        nonfinite: a NaN or inf in the gradients: "propagate" (default, as torch.optim),
            "skip" the whole step, or "raise": see :mod:`adamkit.torch.nonfinite`.
        foreach, capturable, differentiable: accepted for torch.optim compatibility.

    Example:
        >>> import torch, adamkit.torch as ak
        >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        >>> opt = ak.NAdam([w], lr=0.1)
        >>> (w ** 2).sum().backward(); opt.step()
        >>> w.detach()
        tensor([ 0.8944, -1.8944])
    """

    rule = NADAM

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float | torch.Tensor = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        state_bits: int = 32,
        nonfinite: str = "propagate",
    ) -> None:
        super().__init__(**self._arguments(locals()))
