"""What a fused kernel family tells the engine: its state arrays, its scalars, its entry point.

The engine (:mod:`adamkit.torch.fused`) does the rest, the same for every algorithm:
it checks that each parameter can run on a kernel, creates fresh state with the rule's
``init``, gathers the tensors of a param group into one table (see
:mod:`adamkit.torch.kernels.jit`) and makes one call for the whole group:

.. code-block:: python

    launch(kernel, addresses, sizes, scalars)   # kernel.entry for each block, on every core

where row ``t`` of ``addresses`` is param, grad, then :meth:`FusedKernel.arrays`
(0 for ``None``), and row ``t`` of ``scalars`` is :meth:`FusedKernel.scalars`'s
arguments for that tensor, cast to the parameter's dtype (booleans as 0 and 1).

Two small extensions serve algorithms whose host code needs more than the step count
(SWATS; every other family leaves them at their defaults):

* **Reductions.** A kernel with ``reductions = r > 0`` also sums ``r`` quantities over
  each tensor and takes one more argument, ``sums`` (float64, one row of ``r`` per block):
  block ``b`` writes its own row, so the parallel launcher needs no atomics and the
  result does not depend on the number of threads. The launcher adds each tensor's rows
  (in block order) and the engine hands the totals to :attr:`FusedKernel.finish`, which
  returns the scalar state that depends on them. A decision over a whole tensor (SWATS's
  switch) thus stays on the host, in the rule's own function, and the kernel stays one pass.
* **Phases.** :class:`PhasedKernels` picks a kernel per tensor from its scalar state
  (SWATS: Adam's until the tensor switches, SGD's after). The engine builds one table per
  (device, dtype, kernel), so tensors of one group in different phases still take one call
  per phase.
* **Two passes.** A per-tensor factor that the update itself needs (LAMB's trust ratio, the
  cautious rescale) cannot come from one pass: the first kernel returns the tensor's sums,
  the host turns them into scalars (:attr:`SecondPass.scalars`), and a second kernel over
  the same table (:attr:`FusedKernel.then`) applies the update. Each pass streams the
  tensors once; what the update needs is recomputed from the state, never stored.
* **Variants.** An option the family's kernel does not take (``cautious=True``) may have a
  kernel of its own (:attr:`FusedKernel.variants`): :meth:`FusedKernel.for_hyper` picks it
  for a group from its hyperparameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ...rules.spec import Hyper, State


@dataclass(frozen=True)
class FusedKernel:
    """One algorithm family's kernels and the host code that feeds them.

    Attributes:
      name: the family (``"adam"``), for messages.
      entry: the family's entry point for one block of the table, a Python function that
        :func:`.jit.entry_point` compiles as a C function (:func:`.jit.entry_signature`) per
        parameter dtype; the launchers of :mod:`.jit` call it for every block.
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
      reductions: how many float64 sums per tensor the kernel returns (0: none). With
        ``r > 0`` the entry point gets ``sums``, an array of shape ``(blocks, r)``
        into which block ``b`` writes its own partial sums (zeros where it has none).
      finish: ``finish(hp, state, totals) -> new_state``, for kernels with reductions:
        called after the kernel ran, with ``state`` as :attr:`scalars` saw it updated by
        the new scalar state :attr:`scalars` returned, and ``totals`` the tensor's ``r``
        sums (a float64 array). Returns further state to store: a number for a scalar
        key, or for an array key the value to fill the array with (SWATS zeroes its
        momentum buffer at the switch).
    """

    name: str
    entry: Callable[..., None]
    arrays: Callable[[State, torch.Tensor, Hyper], tuple[torch.Tensor | None, ...]]
    scalars: Callable[[Hyper, State], tuple[tuple[Any, ...], State]]
    supports: Callable[[Hyper], bool] = field(default=lambda hp: True)
    reductions: int = 0
    finish: Callable[[Hyper, State, np.ndarray], State] | None = None
    then: SecondPass | None = None
    variants: tuple[tuple[str, FusedKernel], ...] = ()

    def for_hyper(self, hp: Hyper) -> FusedKernel:
        """The kernel for a group with hyperparameters ``hp``: the first of :attr:`variants` whose
        option is on (``("cautious", kernel)``), else this one."""
        for option, kernel in self.variants:
            if hp.get(option, False):
                return kernel
        return self

    def choose(self, state: State) -> FusedKernel:
        """The kernel for a tensor in ``state``: this one (see :class:`PhasedKernels`)."""
        return self

    @property
    def phases(self) -> tuple[FusedKernel, ...]:
        """Every kernel this family may launch (compiled ahead by ``adamkit kernels``): this one,
        its variants and their second passes."""
        found: list[FusedKernel] = []
        for kernel in (self, *(variant for _, variant in self.variants)):
            found.append(kernel)
            if kernel.then is not None:
                found.append(kernel.then.kernel)
        return tuple(found)


@dataclass(frozen=True)
class SecondPass:
    """The second kernel of a two-pass family, over the first pass's table (same addresses).

    Attributes:
      kernel: the kernel launched (its :attr:`FusedKernel.entry`; ``arrays`` and ``scalars``
        are the first pass's).
      scalars: ``scalars(first, totals, sizes, dtype) -> rows``: from the first pass's scalar
        rows (float64, one per tensor), each tensor's sums (float64, ``tensors x reductions``)
        and sizes (reals), the second kernel's scalar rows (float64, cast to the table's
        ``dtype`` at launch). A factor the rule computes in the tensor's dtype (the cautious
        rescale) is computed in ``dtype`` here too, so that the step is the rule's. The arrays
        are NumPy's, or torch tensors on the device where the launcher keeps the sums there
        (Triton: :func:`adamkit.torch.gpu.launch.launch_second`), so it uses only operations
        both have (and :func:`cast`).
    """

    kernel: FusedKernel
    scalars: Callable[[np.ndarray, np.ndarray, np.ndarray, np.dtype], np.ndarray]


def cast(x: Any, dtype: np.dtype) -> Any:
    """``x``, a NumPy array or a torch tensor (:attr:`SecondPass.scalars`), in NumPy ``dtype``."""
    if isinstance(x, np.ndarray):
        return x.astype(dtype)
    return x.to(torch.from_numpy(np.empty(0, dtype)).dtype)


@dataclass(frozen=True)
class PhasedKernels:
    """A rule whose tensors run different kernels by their state (SWATS: Adam, then SGD).

    The engine asks :meth:`choose` for each tensor, with its state as
    :attr:`FusedKernel.scalars` reads it, and gathers the tensors of each chosen kernel
    into their own table. Each phase is an ordinary :class:`FusedKernel`, so a phase can
    be another family's kernel fed other scalars.

    Attributes:
      name: the family (``"swats"``), for messages.
      phase: ``phase(state) -> FusedKernel``.
      phases: every kernel ``phase`` returns (compiled ahead by ``adamkit kernels``).
      supports: as :attr:`FusedKernel.supports`, for the whole family.
    """

    name: str
    phase: Callable[[State], FusedKernel]
    phases: tuple[FusedKernel, ...]
    supports: Callable[[Hyper], bool] = field(default=lambda hp: True)

    def choose(self, state: State) -> FusedKernel:
        return self.phase(state)

    def for_hyper(self, hp: Hyper) -> PhasedKernels:
        """No variants: this family."""
        return self


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
