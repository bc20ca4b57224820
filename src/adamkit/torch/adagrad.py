"""``Adagrad``: a drop-in replacement for torch.optim.Adagrad, executing :mod:`adamkit.rules.adagrad`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from ..rules.adagrad import ADAGRAD
from .engine import fresh_state, plain_hyper
from .optimizer import RuleOptimizer


class Adagrad(RuleOptimizer):
    r"""Adagrad (Duchi, Hazan and Singer, 2011), as torch.optim.Adagrad.

    .. math::
        s_t = s_{t-1} + g_t^2,\quad
        \theta_t = \theta_{t-1} - \frac{\eta}{1 + (t-1)\delta}\,\frac{g_t}{\sqrt{s_t} + \epsilon}

    Like torch.optim.Adagrad, the state (``step`` 0 and ``sum`` filled with
    ``initial_accumulator_value``) is created here, for every parameter, not on the first
    step; so a state_dict saved before any step matches torch's too.

    Args:
        params: parameters or param groups (dicts), as for any torch optimizer.
        lr: learning rate :math:`\eta` (>= 0; a float or a 1-element tensor).
        lr_decay: :math:`\delta`, the learning rate's hyperbolic decay per step (>= 0).
        weight_decay: L2 penalty added to the gradient (>= 0).
        initial_accumulator_value: :math:`s_0` (>= 0). As in torch, the constructor's value
            starts every parameter's sum, also in a group that sets its own.
        eps: :math:`\epsilon` added to the root (>= 0).
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
        >>> opt = ak.Adagrad([w], lr=0.5)
        >>> opt.state[w]["sum"]   # created by the constructor, as torch does
        tensor([0., 0.])
        >>> (w ** 2).sum().backward(); opt.step()
        >>> w.detach()   # the first step moves each coordinate by lr
        tensor([ 0.5000, -1.5000])
    """

    rule = ADAGRAD

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float | torch.Tensor = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        state_bits: int = 32,
        nonfinite: str = "propagate",
    ) -> None:
        super().__init__(**self._arguments(locals()))
        # Eager state, so checkpoints interchange with torch.optim.Adagrad's from step 0.
        for group in self.param_groups:
            hp = {**plain_hyper(group), "initial_accumulator_value": initial_accumulator_value}
            for param in group["params"]:
                self.state[param] = fresh_state(self.rule, param, hp)
