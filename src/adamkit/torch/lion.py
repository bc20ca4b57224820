"""``Lion``: a drop-in torch optimizer executing :mod:`adamkit.rules.lion`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from ..rules.lion import LION
from .optimizer import RuleOptimizer


class Lion(RuleOptimizer):
    r"""Lion (Chen et al., 2023): the sign of an interpolated momentum, one moment per parameter.

    .. math::
        \theta \leftarrow \theta(1 - \eta\lambda) - \eta\,\mathrm{sign}(\beta_1 m + (1-\beta_1) g),
        \qquad m \leftarrow \beta_2 m + (1-\beta_2) g

    Args:
        params: parameters or param groups (dicts), as for any torch optimizer.
        lr: learning rate :math:`\eta` (>= 0): every coordinate moves by exactly this much, so use
            3-10x less than with AdamW.
        betas: :math:`(\beta_1, \beta_2)`, the update's and the momentum's interpolation weights,
            each in [0, 1].
        weight_decay: decoupled weight decay :math:`\lambda` (>= 0; 3-10x AdamW's).
        maximize: ascend the objective instead of descending it.
        cautious: zero the coordinates whose update disagrees with the gradient's sign and
            rescale the rest (Liang et al., 2024; :mod:`adamkit.rules.cautious`).
        fused, state_bits, nonfinite, foreach, capturable, differentiable: as for
            :class:`adamkit.torch.Adam`
            (fused kernels by default, two passes with ``cautious=True`` on the CPU;
            with 16- or 8-bit state, ``cautious=True`` runs on the reference engine).

    Example:
        >>> import torch, adamkit.torch as ak
        >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        >>> opt = ak.Lion([w], lr=0.1)
        >>> (w ** 2).sum().backward(); opt.step()
        >>> w.detach()
        tensor([ 0.9000, -1.9000])
    """

    rule = LION

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float | torch.Tensor = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
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
