"""``AdEMAMix``: a torch optimizer executing :mod:`adamkit.rules.ademamix`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from ..rules.ademamix import ADEMAMIX
from .optimizer import RuleOptimizer


class AdEMAMix(RuleOptimizer):
    r"""AdEMAMix (Pagliardini et al., 2024): Adam plus a slow, uncorrected moment in the numerator.

    .. math::
        \theta \leftarrow \theta - \eta\left(\frac{\hat m_1 + \alpha\, m_2}{\sqrt{\hat v} + \epsilon}
            + \lambda\theta\right),\qquad m_2 \leftarrow \beta_3 m_2 + (1-\beta_3) g

    Args:
        params: parameters or param groups (dicts), as for any torch optimizer.
        lr: learning rate :math:`\eta` (>= 0).
        betas: :math:`(\beta_1, \beta_2, \beta_3)`: the fast moment's, the second moment's and
            the slow moment's decays, each in [0, 1) (default (0.9, 0.999, 0.9999)).
        alpha: the slow moment's weight :math:`\alpha` (>= 0, default 5).
        eps: :math:`\epsilon` added to the bias-corrected root (>= 0).
        weight_decay: decoupled weight decay :math:`\lambda` (>= 0, default 0.01).
        t_alpha, t_beta3: warm-up lengths (steps) of :math:`\alpha` and :math:`\beta_3`, or None
            (the paper uses both, equal to the run's length, for long runs).
        maximize: ascend the objective instead of descending it.
        cautious: mask the update where it disagrees with the gradient (Liang et al., 2024).
        fused, state_bits, nonfinite, foreach, capturable, differentiable: as for
            :class:`adamkit.torch.Adam`
            (fused kernels by default, two passes with ``cautious=True`` on the CPU;
            with 16- or 8-bit state, ``cautious=True`` runs on the reference engine).

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``, ``exp_avg_slow``.
    """

    rule = ADEMAMIX

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float, float, float] = (0.9, 0.999, 0.9999),
        alpha: float = 5.0,
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        t_alpha: float | None = None,
        t_beta3: float | None = None,
        *,
        maximize: bool = False,
        cautious: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        state_bits: int = 32,
        nonfinite: str = "propagate",
    ) -> None:
        super().__init__(**self._arguments(locals()))
