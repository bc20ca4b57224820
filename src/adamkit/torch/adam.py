"""``Adam`` and ``AdamW``: drop-in replacements for torch.optim's, executing :mod:`adamkit.rules.adam`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from ..rules.adam import ADAM, ADAMW
from .optimizer import RuleOptimizer


class Adam(RuleOptimizer):
    r"""Adam (Kingma and Ba, 2015), with torch.optim.Adam's arguments and state.

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\quad
        \theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}
            \frac{m_t}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon}

    Args:
        params: parameters or param groups (dicts), as for any torch optimizer.
        lr: learning rate :math:`\eta` (>= 0; a float or a 1-element tensor).
        betas: decay rates :math:`(\beta_1, \beta_2)` of the two moments, each in [0, 1).
        eps: :math:`\epsilon` added to the bias-corrected root (>= 0).
        weight_decay: L2 penalty added to the gradient, or decoupled decay (>= 0).
        amsgrad: use the running maximum of :math:`v_t` (Reddi et al., 2018).
        maximize: ascend the objective instead of descending it.
        decoupled_weight_decay: shrink the parameters by :math:`1 - \eta\lambda` (AdamW).
        cautious: zero the coordinates whose update disagrees with the gradient's sign and
            rescale the rest per tensor (Liang et al., 2024; :mod:`adamkit.rules.cautious`).
            Not in torch.optim: the group key ``cautious`` is ignored by torch.optim.Adam when
            a checkpoint goes there, and is False for a torch.optim checkpoint loaded here.
        fused: ``None`` (default) uses the fused kernel where available, ``False`` the
            readable reference engine, ``True`` insists on the fused kernel.
        state_bits: 32 (default: moments as the parameters), 16 (bfloat16 moments) or 8
            (8-bit blockwise moments, Dettmers et al. 2022); the update is the same,
            only the storage differs: see :mod:`adamkit.torch.lowbit`.
        nonfinite: a NaN or inf in the gradients: "propagate" (default, as torch.optim),
            "skip" the whole step, or "raise": see :mod:`adamkit.torch.nonfinite`.
        differentiable: record the step in autograd, for gradients through it (reference
            engine, 32-bit state): see :mod:`adamkit.torch.differentiable`.
        foreach, capturable: accepted for torch.optim compatibility (``capturable=True`` is
            refused; the combinations torch refuses are refused: :mod:`adamkit.torch.flags`).

    Sparse gradients (``nn.Embedding(sparse=True)``) are accepted: only the rows
    present are updated, as torch.optim.SparseAdam does.

    Example:
        >>> import torch, adamkit.torch as ak
        >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        >>> opt = ak.Adam([w], lr=0.1)
        >>> (w ** 2).sum().backward(); opt.step()
        >>> w.detach()
        tensor([ 0.9000, -1.9000])
    """

    rule = ADAM

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        state_bits: int = 32,
        nonfinite: str = "propagate",
        decoupled_weight_decay: bool = False,
        cautious: bool = False,
    ) -> None:
        super().__init__(**self._arguments(locals()))


class AdamW(Adam):
    r"""AdamW (Loshchilov and Hutter, 2019): Adam with decoupled weight decay.

    :math:`\theta \leftarrow \theta(1 - \eta\lambda)` before the Adam step; the
    default ``weight_decay`` is 1e-2 as in torch.optim.AdamW. Arguments as :class:`Adam`
    (``cautious=True``: the decay still shrinks every coordinate; only the Adam update is masked).
    """

    rule = ADAMW

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        state_bits: int = 32,
        nonfinite: str = "propagate",
        cautious: bool = False,
    ) -> None:
        RuleOptimizer.__init__(self, **self._arguments(locals()))
