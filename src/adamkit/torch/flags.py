"""torch.optim's implementation flags, and the combinations adamkit refuses as torch.optim does.

``foreach``, ``capturable``, ``differentiable`` and ``fused`` choose how torch.optim runs a
step. adamkit takes the same arguments and stores them in every group (so state_dicts have
the same keys both ways); what they do here:

* ``fused``: ``None`` runs the fused kernels where a family exists, ``False`` the reference
  engine, ``True`` insists on the fused kernels (:func:`.optimizer.choose_engine`).
* ``foreach``: accepted and stored; adamkit has no foreach implementation of its own.
* ``differentiable``: the step is recorded by autograd (:mod:`.differentiable`) on the
  reference engine.
* ``capturable``: refused (CUDA graph capture needs device-side scalars; adamkit's step keeps
  them on the host).

Combinations torch.optim refuses are refused with torch's meaning (and, where torch raises a
``RuntimeError`` for them, with an error that is both a ``ValueError``, as every adamkit
argument error, and a ``RuntimeError``, so code written for torch.optim catches it too).
"""

from __future__ import annotations

from typing import Any

import torch


class FlagError(ValueError, RuntimeError):
    """A combination of flags torch.optim refuses with a ``RuntimeError``."""


def check_flags(
    hyper: dict[str, Any],
    *,
    foreach: bool | None,
    capturable: bool,
    differentiable: bool,
    fused: bool | None,
    state_bits: int,
) -> None:
    """Raise if the flags (with the hyperparameters they constrain) cannot run together."""
    if fused and foreach:
        raise FlagError(
            "`fused` and `foreach` cannot be `True` together (fused=True, foreach=True: "
            "pick one implementation)"
        )
    if fused and differentiable:
        raise FlagError(
            "`fused` does not support `differentiable` (fused=True, differentiable=True: the "
            "fused kernels write memory autograd cannot record; leave fused unset to run the "
            "reference engine)"
        )
    if foreach and differentiable:  # torch.optim fails at the first step (its SGD runs unrecorded)
        raise ValueError(
            "foreach=True with differentiable=True: foreach kernels are not recorded by autograd "
            "(leave foreach unset for a differentiable step)"
        )
    if capturable:
        raise ValueError(
            "capturable=True is not supported by adamkit: its step keeps scalars on "
            "the host (CUDA graph capture needs torch.optim's capturable mode)"
        )
    if differentiable and state_bits != 32:
        raise ValueError(
            f"Invalid state_bits (state_bits): {state_bits} with differentiable=True (must be 32: "
            "rounding the moments to 16 or 8 bits has no useful derivative)"
        )
    if foreach:  # torch's foreach kernels take Python numbers only, unless capturable
        for name, value in (("lr", hyper.get("lr")), *tensor_betas(hyper)):
            if isinstance(value, torch.Tensor):
                raise ValueError(
                    f"{name} as a Tensor is not supported for capturable=False and foreach=True "
                    f"({name}={value!r}: pass a float, or leave foreach unset)"
                )


def tensor_betas(hyper: dict[str, Any]) -> list[tuple[str, Any]]:
    """``betas[0]`` and ``betas[1]`` with their names, where the rule has betas."""
    betas = hyper.get("betas")
    return [] if betas is None else [(f"betas[{i}]", beta) for i, beta in enumerate(betas)]
