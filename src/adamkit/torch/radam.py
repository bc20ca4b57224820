"""``RAdam``: a drop-in replacement for torch.optim's, executing :mod:`adamkit.rules.radam`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from ..rules.radam import RADAM
from .optimizer import RuleOptimizer


class RAdam(RuleOptimizer):
    r"""RAdam (Liu et al., 2020): rectified Adam, with torch.optim.RAdam's arguments and state.

    .. math::
        \theta_t = \theta_{t-1} - \frac{\eta\, m_t}{1-\beta_1^t}\cdot
        \begin{cases}
            r_t\sqrt{1-\beta_2^t}\,/\,(\sqrt{v_t}+\epsilon) & \rho_t > 5\\
            1 & \text{otherwise}
        \end{cases}

    with :math:`m_t, v_t` Adam's moments, :math:`\rho_t` the approximated SMA length and
    :math:`r_t` the variance rectification (see :mod:`adamkit.rules.radam`). State:
    ``step``, ``exp_avg``, ``exp_avg_sq``.

    Args:
        params: parameters or param groups (dicts), as for any torch optimizer.
        lr: learning rate :math:`\eta` (>= 0; a float or a 1-element tensor).
        betas: decay rates :math:`(\beta_1, \beta_2)` of the two moments, each in [0, 1).
        eps: :math:`\epsilon` added to :math:`\sqrt{v_t}` (>= 0).
        weight_decay: L2 penalty added to the gradient, or decoupled decay (>= 0).
        decoupled_weight_decay: shrink the parameters by :math:`1 - \eta\lambda` (RAdamW).
        maximize: ascend the objective instead of descending it.
        fused: ``None`` (default) uses a fused engine where one exists, ``False`` the
            readable reference engine, ``True`` insists on a fused one. (torch.optim.RAdam
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
        >>> opt = ak.RAdam([w], lr=0.1)
        >>> (w ** 2).sum().backward(); opt.step()   # the first steps are momentum steps
        >>> w.detach()
        tensor([ 0.8000, -1.6000])
    """

    rule = RADAM

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
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
