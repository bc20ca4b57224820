r"""SWATS (:mod:`adamkit.rules.swats`): Adam's kernel plus the two sums of the switch, then SGD's.

Each tensor is in one of two phases, read from its scalar state ``switched``; the engine
gives each phase its own table, so tensors of one group that switched at different steps
still take one call per phase (:class:`~.contract.PhasedKernels`):

* **Adam phase**: Adam's own work function (:func:`.adam.adam_work`, no AMSGrad; maximize
  and L2 decay applied to the gradient first, as ``SWATS.update`` does before either phase)
  on each block, then, over the same block while it is still in cache, the two sums the
  switch needs, for the step as applied :math:`p = \theta_k - \theta_{k-1}` and the
  signed, decayed gradient :math:`g`:

  .. math::

      \sum p^2 \quad\text{and}\quad \sum p\,g,

  accumulated in float64, one partial sum per block (:mod:`.jit`). The host adds each
  tensor's blocks and calls the rule's own decision,
  :func:`adamkit.rules.swats.after_adam_step`, so both engines switch by the same code;
  at the switch it zeroes the momentum buffer.
* **SGD phase**: SGD's kernel (:mod:`.sgd`) on ``momentum_buffer``, with momentum
  :math:`\beta_1` and the rate of :func:`adamkit.rules.swats.sgd_hyper`.

The parameter update is the rule's, operation for operation, in the parameter's dtype.
The sums are not bit for bit the rule's: the rule sums in the tensor's dtype with torch's
order, the kernel in float64 (products of float32 values are exact there) in blocks; the
difference is float rounding, far below anything the switch criterion resolves.

Memory: the Adam phase moves Adam's 28 bytes per float32 parameter (the sums read only
the block just written, plus a copy of its old values in cache), the SGD phase 20.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ...rules.spec import Hyper, State
from ...rules.swats import after_adam_step, phase_hyper, sgd_hyper
from . import adam, sgd
from .contract import FusedKernel, PhasedKernels
from .jit import block_kernel, block_sums, decayed, locate, memory_at, table

#: For the sums only: ``reassoc`` lets LLVM split each float64 sum into vector lanes (without
#: it a floating-point reduction cannot vectorise). The parameter update runs in Adam's own
#: function, compiled without fast-math, so it stays exactly the rule's.
reduction_kernel = njit(error_model="numpy", nogil=True, fastmath={"reassoc"})


@reduction_kernel
def step_sums(before, param, grad, sign, l2, weight_decay, decay):
    """``(sum(p * p), sum(p * g))`` over a block in float64, ``p = param - before`` as applied.

    ``g`` is the gradient as the Adam step saw it (:func:`.jit.decayed` on the old values).
    """
    step_sq = 0.0
    step_dot_grad = 0.0
    for i in range(param.size):
        g, _ = decayed(grad[i], before[i], sign, l2, weight_decay, decay)
        p = np.float64(param[i] - before[i])  # rounded in the parameter's dtype, as the rule's step
        step_sq += p * p
        step_dot_grad += p * np.float64(g)
    return step_sq, step_dot_grad


@block_kernel
def swats_adam_work(b, addresses, sizes, starts, scalars, block, sums):
    """Block ``b``: Adam's step (Adam's table layout and scalars), then its row of ``sums``."""
    t, lo, hi = locate(b, sizes, starts, block)
    a, s = addresses[t], scalars[t]
    param = memory_at(a[0], lo, hi, scalars)
    before = param.copy()  # the step as applied needs the old values: 64 KiB, in cache
    adam.adam_work(b, addresses, sizes, starts, scalars, block)
    step_sq, step_dot_grad = step_sums(
        before, param, memory_at(a[1], lo, hi, scalars), s[0], s[1] != 0, s[2], s[3]
    )
    sums[b, 0] = step_sq
    sums[b, 1] = step_dot_grad


def swats_adam_entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """The C entry point of :func:`swats_adam_work` (:func:`.jit.entry_signature`)."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    sums = block_sums(extra, s, tensors, extra_count)
    swats_adam_work(b, a, z, s, c, block, sums)


def with_gradient_options(phase_hp: dict, hp: Hyper) -> dict:
    """A phase's hyperparameters plus SWATS's ``maximize`` and L2 ``weight_decay``.

    The rule signs and decays the gradient once, before either phase, and runs each phase
    with neither; Adam's and SGD's kernels do both first thing in their loops
    (:func:`.jit.decayed`), which is the same arithmetic in the same order.
    """
    return {**phase_hp, "weight_decay": hp["weight_decay"], "maximize": hp["maximize"]}


def adam_arrays(state: State, param, hp: Hyper) -> tuple:
    if "momentum_buffer" not in state:  # zeroed at the switch: without it, the reference engine explains
        raise KeyError("momentum_buffer")
    return adam.arrays(state, param, with_gradient_options(phase_hyper(hp), hp))


def adam_scalars(hp: Hyper, state: State) -> tuple[tuple, State]:
    """Adam's scalars for the step (:func:`.adam.scalars`), in Python float64."""
    return adam.scalars(with_gradient_options(phase_hyper(hp), hp), state)


def finish(hp: Hyper, state: State, totals: np.ndarray) -> State:
    """The rule's decision from the tensor's two sums; at the switch the momentum buffer is zeroed."""
    new, switched = after_adam_step(state["step"], float(totals[0]), float(totals[1]), state, hp)
    return {**new, "momentum_buffer": 0.0} if switched else new


def sgd_arrays(state: State, param, hp: Hyper) -> tuple:
    return (state["momentum_buffer"],)


def sgd_scalars(hp: Hyper, state: State) -> tuple[tuple, State]:
    """SGD's scalars (:func:`.sgd.scalars`) at the rule's rate, the buffer existing (no first step)."""
    args, _ = sgd.scalars(with_gradient_options(sgd_hyper(hp, state), hp), {"momentum_buffer": True})
    return args, {"step": state["step"] + 1}


SWATS_ADAM_KERNEL = FusedKernel(
    "swats-adam",
    swats_adam_entry,
    adam_arrays,
    adam_scalars,
    reductions=2,
    finish=finish,
)
SWATS_SGD_KERNEL = FusedKernel("swats-sgd", sgd.sgd_entry, sgd_arrays, sgd_scalars)


def phase(state: State) -> FusedKernel:
    """Adam's kernel until the tensor has switched, SGD's after."""
    return SWATS_SGD_KERNEL if state["switched"] else SWATS_ADAM_KERNEL


SWATS_KERNEL = PhasedKernels("swats", phase, (SWATS_ADAM_KERNEL, SWATS_SGD_KERNEL))
