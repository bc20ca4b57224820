"""``SWATS``: Adam that hands over to SGD with momentum, executing :mod:`adamkit.rules.swats`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from ..rules.swats import SWATS as SWATS_RULE
from .optimizer import RuleOptimizer


@dataclass(frozen=True)
class Switch:
    """Where one parameter tensor stands: still on Adam, or on SGD since ``step`` at ``sgd_lr``.

    ``sgd_lr`` is the paper's :math:`\\Lambda`; the SGD phase runs as
    ``torch.optim.SGD(lr=(1 - beta1) * sgd_lr, momentum=beta1)``.
    """

    switched: bool
    step: int | None = None
    sgd_lr: float | None = None


class SWATS(RuleOptimizer):
    r"""SWATS (Keskar and Socher, 2017): Adam until the SGD learning rate it implies settles,
    then SGD with momentum at that rate, decided per parameter tensor.

    Adam phase (torch.optim.Adam's step :math:`p_k`), with the projected SGD rate
    :math:`\gamma_k = p_k^\top p_k / (-p_k^\top g_k)` averaged as
    :math:`\lambda_k = \beta_2\lambda_{k-1} + (1-\beta_2)\gamma_k`. Switch after step
    :math:`k > 1` when :math:`|\lambda_k/(1-\beta_2^k) - \gamma_k| <` ``switch_tol``, with
    :math:`\Lambda = \lambda_k/(1-\beta_2^k)`. SGD phase, buffer starting at zero:

    .. math::
        v_k = \beta_1 v_{k-1} + g_k,\qquad \theta_k = \theta_{k-1} - (1-\beta_1)\Lambda v_k

    i.e. ``torch.optim.SGD(lr=(1 - beta1) * Lambda, momentum=beta1)``. See
    :mod:`adamkit.rules.swats` for the choices made where the paper is silent.

    Args:
        params: parameters or param groups (dicts), as for any torch optimizer.
        lr: Adam's learning rate :math:`\eta` (>= 0). After the switch, changes of ``lr``
            (schedulers) scale the SGD rate by ``lr / lr_at_switch``.
        betas: :math:`(\beta_1, \beta_2)`: Adam's moment decays; :math:`\beta_1` is also
            the SGD momentum and :math:`\beta_2` the decay of the rate estimate. Each in [0, 1).
        eps: :math:`\epsilon` added to Adam's bias-corrected root (>= 0).
        weight_decay: L2 penalty added to the gradient in both phases (>= 0).
        switch_tol: the switch criterion's tolerance, absolute, in learning-rate units
            (>= 0; default 1e-5; the paper's 1e-9 rarely triggers; 0 never switches).
        maximize: ascend the objective instead of descending it.
        fused: ``None`` (default): the fused CPU kernels where numba is installed (Adam's
            kernel plus the two sums of the switch, then SGD's: :mod:`adamkit.torch.kernels.swats`),
            else the reference engine; ``True``: require them; ``False``: the reference engine.
        state_bits: 32 (default: moments as the parameters), 16 (bfloat16 moments) or 8
            (8-bit blockwise moments, Dettmers et al. 2022); the update is the same,
            only the storage differs: see :mod:`adamkit.torch.lowbit`.
        nonfinite: a NaN or inf in the gradients: "propagate" (default, as torch.optim),
            "skip" the whole step, or "raise": see :mod:`adamkit.torch.nonfinite`.
        foreach, capturable, differentiable: accepted for torch.optim compatibility.

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``, ``momentum_buffer`` and the
    0-dim tensors ``lr_estimate``, ``switched``, ``switch_step``, ``sgd_lr``,
    ``lr_at_switch``. :meth:`switches` reads them for you.

    Paper: arXiv:1712.07628 (Algorithm 1).

    Example:
        >>> import torch, adamkit.torch as ak
        >>> w = torch.nn.Parameter(torch.tensor([3.0, -1.0]))
        >>> opt = ak.SWATS([w], lr=0.01)
        >>> for _ in range(100):
        ...     opt.zero_grad(); (w ** 2).sum().backward(); opt.step()
        >>> s = opt.switches()[0]
        >>> s.switched, s.step, round(s.sgd_lr, 5)   # to SGD after step 2, at rate 0.00251
        (True, 2, 0.00251)
    """

    rule = SWATS_RULE

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        switch_tol: float = 1e-5,
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

    def switches(self) -> list[Switch]:
        """One :class:`Switch` per parameter, in the order of the param groups."""
        out = []
        for group in self.param_groups:
            for param in group["params"]:
                state = self.state.get(param, {})
                if not state or not float(state["switched"]):
                    out.append(Switch(False))
                else:
                    out.append(Switch(True, int(state["switch_step"]), float(state["sgd_lr"])))
        return out
