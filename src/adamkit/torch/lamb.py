"""``LAMB``: a torch optimizer executing :mod:`adamkit.rules.lamb`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from ..rules.lamb import LAMB as LAMB_RULE
from .optimizer import RuleOptimizer


class LAMB(RuleOptimizer):
    r"""LAMB (You et al., 2020), as ``optax.lamb``: Adam's direction plus decoupled decay, scaled
    per tensor by the trust ratio :math:`\lVert\theta\rVert / \lVert r\rVert` (1 when either is 0).

    Args:
        params: parameters or param groups (dicts), as for any torch optimizer.
        lr: learning rate (>= 0).
        betas: decay rates of the two moments, each in [0, 1).
        eps: :math:`\epsilon` added to the bias-corrected root (>= 0; default 1e-6).
        weight_decay: :math:`\lambda`, added to the direction before the trust ratio (>= 0).
        maximize: ascend the objective instead of descending it.
        fused, state_bits, nonfinite, foreach, capturable, differentiable: as for
            :class:`adamkit.torch.Adam`
            (a two-pass fused kernel on the CPU, :mod:`adamkit.torch.kernels.lamb`; the reference
            engine on CUDA devices; ``state_bits`` 32 only for now).

    Each parameter tensor is one "layer" of the paper: keep biases and norms in their own group
    with ``weight_decay=0``, as BERT's recipe does.
    """

    rule = LAMB_RULE

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        state_bits: int = 32,
        nonfinite: str = "propagate",
    ) -> None:
        super().__init__(**self._arguments(locals()))
