"""``ScheduleFreeAdamW``: schedulefree's AdamWScheduleFree, executing :mod:`adamkit.rules.schedulefree`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from ..rules.schedulefree import SCHEDULE_FREE_ADAMW, to_eval, to_train
from .fit import PLAIN_TENSORS
from .optimizer import RuleOptimizer

#: values moved at a time by ``train()`` / ``eval()``: the rule's move makes temporaries the size of
#: what it is given, so a model's largest tensor (GPT-2's embedding: 38M values) goes in pieces
MOVE_CHUNK = 1 << 20


class ScheduleFreeAdamW(RuleOptimizer):
    r"""Schedule-Free AdamW (Defazio et al., 2024): no learning-rate schedule; the parameters
    hold the gradient point :math:`y` while training and the average :math:`x` while evaluating.

    Call :meth:`train` before training steps and :meth:`eval` before evaluating or saving, as with
    ``schedulefree.AdamWScheduleFree`` (the optimizer starts in eval mode, and :meth:`step`
    refuses to run outside train mode). Use no scheduler; ``warmup_steps`` warms the rate up.

    Args:
        params: parameters or param groups (dicts), as for any torch optimizer.
        lr: learning rate (>= 0; default 0.0025).
        betas: :math:`\beta_1` (the interpolation between :math:`x` and :math:`z`, in (0, 1)) and
            :math:`\beta_2` (the second moment's decay, in [0, 1)).
        eps: added to the bias-corrected root (>= 0).
        weight_decay: L2 penalty applied at :math:`y` (>= 0).
        warmup_steps: linear warm-up of the learning rate over this many steps (>= 0).
        r: polynomial weighting power of the average (>= 0).
        weight_lr_power: the average weights each iterate by the largest learning rate so far to
            this power (>= 0; default 2).
        fused, state_bits, nonfinite, foreach, capturable, differentiable: as for
            :class:`adamkit.torch.Adam`
            (a fused kernel by default, :mod:`adamkit.torch.kernels.schedulefree`: one pass over
            y, g, z, v, 28 bytes per float32 value as Adam; ``state_bits`` 32 only).

    Example:
        >>> import torch, adamkit.torch as ak
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = ak.ScheduleFreeAdamW([w], lr=0.1)
        >>> opt.train()
        >>> for _ in range(3):
        ...     opt.zero_grad(); (w ** 2).sum().backward(); opt.step()
        >>> opt.eval()   # w now holds the average x, for evaluation and checkpoints
    """

    rule = SCHEDULE_FREE_ADAMW

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float | torch.Tensor = 0.0025,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        r: float = 0.0,
        weight_lr_power: float = 2.0,
        *,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        state_bits: int = 32,
        nonfinite: str = "propagate",
    ) -> None:
        if differentiable:  # the step size is a host number (the parameter's RMS; the average's weight)
            raise ValueError(
                "differentiable=True is not supported by ScheduleFreeAdamW: its step size is computed "
                "on the host and would not be recorded (Lion, AdEMAMix, AdaBelief and LAMB support it)"
            )
        super().__init__(**self._arguments(locals()))

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        # a new group is in the mode the optimizer is in (eval at construction, as schedulefree's)
        mode = self.param_groups[0]["train_mode"] if self.param_groups else False
        param_group.setdefault("train_mode", mode)
        super().add_param_group(param_group)

    @torch.no_grad()
    def _move(self, train: bool, to: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> None:
        for group in self.param_groups:
            if group["train_mode"] == train:
                continue
            beta1 = group["betas"][0]
            for param in group["params"]:
                z = self.state.get(param, {}).get("z")
                if z is None:
                    continue
                for piece, z_piece in pieces(param, z.to(param.device)):
                    piece.copy_(to(piece, z_piece, beta1))
            group["train_mode"] = train

    def train(self) -> None:
        """Put the parameters at the gradient point :math:`y` (before training steps)."""
        self._move(True, to_train)

    def eval(self) -> None:
        """Put the parameters at the average :math:`x` (before evaluating or saving)."""
        self._move(False, to_eval)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        if not all(group["train_mode"] for group in self.param_groups):
            raise RuntimeError(
                "ScheduleFreeAdamW.step() outside train mode: call optimizer.train() before training "
                "(and optimizer.eval() before evaluating or saving), as with schedulefree"
            )
        return super().step(closure)


def pieces(param: torch.Tensor, z: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``param`` and ``z`` as pairs of flat views of at most :data:`MOVE_CHUNK` values (the whole tensors
    where they are not plain contiguous tensors of one shape: a DTensor, a strided view)."""
    plain = type(param) in PLAIN_TENSORS and type(z) in PLAIN_TENSORS
    if not (plain and param.shape == z.shape and param.is_contiguous() and z.is_contiguous()):
        return [(param, z)]
    flat, flat_z = param.view(-1), z.view(-1)
    starts = range(0, flat.numel(), MOVE_CHUNK)
    return [(flat[i : i + MOVE_CHUNK], flat_z[i : i + MOVE_CHUNK]) for i in starts]
