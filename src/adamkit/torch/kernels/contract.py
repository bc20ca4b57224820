"""What a fused kernel family tells the engine: its state arrays, its scalars, its two launchers.

The engine (:mod:`adamkit.torch.fused`) does the rest, the same for every algorithm:
it checks that each parameter can run on a kernel, creates fresh state with the rule's
``init``, gathers the tensors of a param group into one table (see
:mod:`adamkit.torch.kernels.jit`) and makes one call for the whole group:

.. code-block:: python

    kernel.parallel(addresses, sizes, starts, scalars, block)   # or kernel.serial(...)

where row ``t`` of ``addresses`` is param, grad, then :meth:`FusedKernel.arrays`
(0 for ``None``), and row ``t`` of ``scalars`` is :meth:`FusedKernel.scalars`'s
arguments for that tensor, cast to the parameter's dtype (booleans as 0 and 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ...rules.spec import Hyper, State


@dataclass(frozen=True)
class FusedKernel:
    """One algorithm family's kernels and the host code that feeds them.

    Attributes:
      name: the family (``"adam"``), for messages.
      serial: ``serial(addresses, sizes, starts, scalars, block)``: the table, on the calling thread.
      parallel: the same, its blocks spread over the cores.
      arrays: ``arrays(state, param, hp) -> tuple[Tensor | None, ...]``: the state
        tensors the kernel updates in place, in its argument order; ``None`` for an
        array the flags leave unused. Creates state the rule creates lazily (SGD's
        momentum buffer). Raising ``KeyError`` (state missing) sends the parameter
        to the reference engine, which reports the problem as the rule does.
      supports: ``supports(hp) -> bool``: False for hyperparameters the kernel does not
        implement (an option of the rule for Keras's conventions): the group then
        runs on the reference engine.
      scalars: ``scalars(hp, state) -> (args, new_scalar_state)``: the kernel's
        per-tensor scalars (floats, bools) and the new values of the rule's scalar
        state. ``state`` is the stored state before :meth:`arrays` ran, the rule's
        scalars as Python floats, arrays only as ``True`` (or ``None``). Called once
        per distinct state in a step: tensors with equal state share the result.
    """

    name: str
    serial: Callable[..., None]
    parallel: Callable[..., None]
    arrays: Callable[[State, torch.Tensor, Hyper], tuple[torch.Tensor | None, ...]]
    scalars: Callable[[Hyper, State], tuple[tuple[Any, ...], State]]
    supports: Callable[[Hyper], bool] = field(default=lambda hp: True)


def decay_scalars(hp: Hyper) -> tuple[float, bool, float, float]:
    """``(sign, l2, weight_decay, decay)`` for :func:`.jit.decayed`: maximize and weight decay."""
    lr, weight_decay = float(hp["lr"]), float(hp.get("weight_decay", 0.0))
    decoupled = weight_decay != 0 and bool(hp.get("decoupled_weight_decay", False))
    return (
        -1.0 if hp.get("maximize", False) else 1.0,
        weight_decay != 0 and not decoupled,
        weight_decay,
        1 - lr * weight_decay if decoupled else 1.0,
    )


def no_options(*names: str) -> Callable[[Hyper], bool]:
    """``supports(hp)``: true unless one of the options ``names`` (not implemented by the kernel) is on."""
    return lambda hp: not any(hp.get(name, False) for name in names)
