"""What every kernel shares: numba's settings, the work layout, and memory by address.

Settings:

* ``cache=True``: machine code is written to disk on first use and loaded afterwards.
* ``error_model="numpy"``: a division by zero gives inf/nan as in torch, no exception
  check in the loop (which would also block vectorisation).
* no ``fastmath``: LLVM may not reassociate, contract to FMA, or assume away NaN, so
  every kernel computes exactly the operations of the rule, in its order and dtype.
* ``nogil=True``: other Python threads (a data loader) run during the step.

Work layout: one call updates every tensor of a param group on one device with one dtype. The
host passes a *table*: ``addresses[t, k]`` (the ``k``-th array of tensor ``t``: param,
grad, then the state in the family's order; 0 where a flag leaves an array unused),
``sizes[t]`` (elements), ``starts[t]`` (the index of its first block; ``starts[-1]``
is the number of blocks), ``scalars[t, j]`` (the family's per-tensor scalars, in the
parameter's dtype) and ``block``, the block size ``starts`` was counted in. Blocks are
the units of work spread over the cores, so one parallel region covers a whole model,
big and small tensors alike. (``block`` is an argument, not a constant compiled in:
numba's cache tracks a kernel's own file only, so a compiled constant from this file
could outlive an edit of it.)

A kernel with reductions (:attr:`.contract.FusedKernel.reductions`, SWATS's two sums)
takes one more argument, ``sums[b, j]`` (float64), where block ``b`` writes its partial
sums; :func:`launch` adds them up per tensor. One row per block keeps the parallel loop
free of shared writes and the result the same on any number of threads.

Threads: as many as torch uses (``torch.get_num_threads()``, at most numba's pool), so
``torch.set_num_threads(1)`` keeps the optimizer on one core too.

Cache: numba's on-disk cache (``cache=True``) checks only the source file of the function
it compiled, not the files of the functions it calls. A kernel that calls this module's
helpers (:func:`decayed`, :func:`memory_at`, :func:`locate`) or another family's block
functions (SWATS calls Adam's and SGD's) keeps its old machine code when those change.
After editing this file, or any file a kernel imports from, delete
``src/adamkit/torch/kernels/__pycache__/*.nbi`` and ``*.nbc`` (and ``lowbit/__pycache__``'s,
whose kernels call this module and the codecs of :mod:`adamkit.torch.lowbit`) before testing.
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from numba import carray, njit, types
from numba.extending import intrinsic

BLOCK = 16384

#: Groups with fewer elements than this run on the calling thread: waking the other cores costs more.
PARALLEL_MIN = 4 * BLOCK

block_kernel = njit(cache=True, error_model="numpy", nogil=True)
parallel_kernel = njit(cache=True, error_model="numpy", nogil=True, parallel=True)
#: element helpers, inlined into the loops that call them (so those loops still vectorise)
element = njit(cache=True, error_model="numpy", nogil=True, inline="always")


@element
def decayed(grad, param, sign, l2, weight_decay, decay):
    """:func:`~adamkit.rules.spec.signed_grad` then :func:`~adamkit.rules.spec.apply_weight_decay`.

    One element: ``(grad, param)`` as the rules see them after both. ``sign`` is exactly
    +-1 (maximize); ``decay`` is ``1 - lr * wd`` for decoupled decay, exactly 1 otherwise;
    ``l2`` adds ``wd * param`` to the gradient. See :func:`.contract.decay_scalars`.
    """
    g = grad * sign
    p = param * decay
    if l2:
        g = g + weight_decay * p
    return g, p


@intrinsic
def _pointer(typingctx, address, like):
    """The integer ``address`` as a pointer to elements of ``like``'s dtype."""
    if not isinstance(address, types.Integer) or not isinstance(like, types.Array):
        return None
    pointer = types.CPointer(like.dtype)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(pointer))

    return pointer(address, like), codegen


@block_kernel
def memory_at(address, lo, hi, like):
    """Elements ``lo:hi`` of the array of ``like``'s dtype that starts at ``address`` (no copy)."""
    return carray(_pointer(address, like), hi)[lo:hi]


@block_kernel
def locate(b, sizes, starts, block):
    """Block ``b`` of the table: its tensor and the element range ``lo:hi`` within it."""
    t = np.searchsorted(starts, b, side="right") - 1
    lo = (b - starts[t]) * block
    return t, lo, min(lo + block, sizes[t])


def block_starts(sizes: np.ndarray) -> np.ndarray:
    """``starts`` for tensors of ``sizes`` elements: the cumulative count of their blocks."""
    starts = np.zeros(len(sizes) + 1, np.int64)
    np.cumsum((sizes + BLOCK - 1) // BLOCK, out=starts[1:])
    return starts


def tensor_totals(sums: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each tensor's sums: its blocks' rows of ``sums`` added in block order (zeros without blocks)."""
    totals = np.zeros((len(starts) - 1, sums.shape[1]))
    firsts = starts[:-1]
    has_blocks = starts[1:] > firsts
    if has_blocks.any():  # reduceat over increasing starts: each tensor's rows up to the next one's
        totals[has_blocks] = np.add.reduceat(sums, firsts[has_blocks], axis=0)
    return totals


def runs(kernel) -> bool:
    """Every family has numba kernels: :data:`adamkit.torch.fused.KERNELS` lists them."""
    return True


def launch(
    kernel, addresses: np.ndarray, sizes: np.ndarray, scalars: np.ndarray, device: torch.device | None = None
) -> np.ndarray | None:
    """Run ``kernel`` over the table: on this thread, or on as many threads as torch uses.

    ``device`` is the CPU (launchers of other devices need theirs).

    Returns the per-tensor sums, shape ``(tensors, kernel.reductions)``, for a kernel with
    reductions; ``None`` otherwise.
    """
    starts = block_starts(sizes)
    sums = np.zeros((starts[-1], kernel.reductions)) if kernel.reductions else None
    extra = () if sums is None else (sums,)
    threads = min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)
    if threads <= 1 or sizes.sum() < PARALLEL_MIN:
        kernel.serial(addresses, sizes, starts, scalars, BLOCK, *extra)
    else:
        previous = numba.get_num_threads()
        if previous != threads:
            numba.set_num_threads(threads)
        try:
            kernel.parallel(addresses, sizes, starts, scalars, BLOCK, *extra)
        finally:
            if previous != threads:
                numba.set_num_threads(previous)
    return None if sums is None else tensor_totals(sums, starts)
