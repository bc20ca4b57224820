"""``Adafactor``: a drop-in for ``torch.optim.Adafactor`` executing :mod:`adamkit.rules.adafactor`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from ..rules.adafactor import ADAFACTOR
from .optimizer import RuleOptimizer


class Adafactor(RuleOptimizer):
    r"""Adafactor (Shazeer and Stern, 2018) with torch.optim.Adafactor's arguments, state and math.

    A matrix's second moment is kept as a row and a column average (:math:`n + m` values, not
    :math:`nm`); the step is relative to the parameter's RMS and capped by :math:`1/\sqrt t`.
    See :mod:`adamkit.rules.adafactor` for the update.

    Args:
        params: parameters or param groups (dicts), as for any torch optimizer.
        lr: learning rate (>= 0; default 1e-2): the cap of the relative step size.
        beta2_decay: :math:`c` in :math:`1 - \beta_{2,t} = t^c` (<= 0; default -0.8).
        eps: ``(eps1, eps2)``: the floor of the second moment (None: the dtype's machine
            epsilon) and of the parameter's RMS (default 1e-3).
        d: clipping threshold of the update's RMS (>= 1).
        weight_decay: decoupled weight decay (>= 0).
        maximize: ascend the objective instead of descending it.
        fused, state_bits, nonfinite, foreach, capturable, differentiable: as for
            :class:`adamkit.torch.Adam`
            (the fused engine runs float32 and float64 tensors in four passes, numba on the CPU and
            Triton on CUDA devices, see
            :mod:`adamkit.torch.fused_adafactor`; DTensor shards and the rest take the reference
            engine; its factored state is already small: ``state_bits`` 32 only).

    Complex parameters and sparse gradients are refused, as by torch.optim.Adafactor.
    """

    rule = ADAFACTOR

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float | torch.Tensor = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        state_bits: int = 32,
        nonfinite: str = "propagate",
    ) -> None:
        if differentiable:  # the step size is a host number (the parameter's RMS; the average's weight)
            raise ValueError(
                "differentiable=True is not supported by Adafactor: its step size is computed "
                "on the host and would not be recorded (Lion, AdEMAMix, AdaBelief and LAMB support it)"
            )
        super().__init__(**self._arguments(locals()))

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None and param.is_complex():
                    raise RuntimeError("Adafactor does not support complex parameters")
        return super().step(closure)
