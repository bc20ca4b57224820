"""``AdaBelief``: a torch optimizer executing :mod:`adamkit.rules.adabelief`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from ..rules.adabelief import ADABELIEF
from .optimizer import RuleOptimizer


class AdaBelief(RuleOptimizer):
    r"""AdaBelief (Zhuang et al., 2020): Adam whose denominator is the gradient's variance around
    its momentum, :math:`s \leftarrow \beta_2 s + (1-\beta_2)(g - m)^2 + \epsilon`.

    Args:
        params: parameters or param groups (dicts), as for any torch optimizer.
        lr: learning rate (>= 0).
        betas: decay rates of :math:`m` and :math:`s`, each in [0, 1).
        eps: :math:`\epsilon` (>= 0; default 1e-16, the authors'), added to :math:`s` and after the root.
        weight_decay: L2 penalty, or decoupled decay with ``decoupled_weight_decay`` (>= 0).
        amsgrad: use the running maximum of :math:`s`.
        decoupled_weight_decay: shrink the parameters by :math:`1 - \eta\lambda` (AdamW-style).
        maximize: ascend the objective instead of descending it.
        fused, state_bits, nonfinite, foreach, capturable, differentiable: as for
            :class:`adamkit.torch.Adam`
            (fused kernels by default; ``state_bits`` 32 only for now).

    State per parameter (the authors' keys): ``step``, ``exp_avg``, ``exp_avg_var`` and, with
    AMSGrad, ``max_exp_avg_var``.
    """

    rule = ADABELIEF

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-16,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        decoupled_weight_decay: bool = False,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        state_bits: int = 32,
        nonfinite: str = "propagate",
    ) -> None:
        super().__init__(**self._arguments(locals()))
