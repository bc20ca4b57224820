"""What every kernel shares: numba's settings, the work layout, and memory by address.

Settings:

* ``error_model="numpy"``: a division by zero gives inf/nan as in torch, no exception
  check in the loop (which would also block vectorisation).
* no ``fastmath``: LLVM may not reassociate, contract to FMA, or assume away NaN, so
  every kernel computes exactly the operations of the rule, in its order and dtype.
* ``nogil=True``: other Python threads (a data loader) run during the step.
* no ``cache=True``: what runs is compiled and cached whole, as C functions
  (:mod:`.machine_code`), keyed on every source file it is built from. (numba's cache
  would also keep each helper's code, checked against its own file only.)

Work layout: one call updates every tensor of a param group on one device with one dtype. The
host passes a *table*: ``addresses[t, k]`` (the ``k``-th array of tensor ``t``: param,
grad, then the state in the family's order; 0 where a flag leaves an array unused),
``sizes[t]`` (elements), ``starts[t]`` (the index of its first block; ``starts[-1]``
is the number of blocks), ``scalars[t, j]`` (the family's per-tensor scalars, in the
parameter's dtype) and ``block``, the block size ``starts`` was counted in. Blocks are
the units of work spread over the cores, so one parallel region covers a whole model,
big and small tensors alike.

A kernel with reductions (:attr:`.contract.FusedKernel.reductions`, SWATS's two sums)
takes one more argument, ``sums[b, j]`` (float64), where block ``b`` writes its partial
sums; :func:`launch` adds them up per tensor. One row per block keeps the parallel loop
free of shared writes and the result the same on any number of threads.

Entry points and launchers: a family's code for one block is an *entry point*, a C
function of one signature for every family (:func:`entry_signature`: the block index and
the table by address), compiled per parameter dtype on first use (:func:`entry_point`).
A launcher, compiled twice for all families, calls it through its address for every
block: in parallel over numba's threads, or serially on the calling thread for small
groups, where waking the other cores costs more than it saves (:func:`run`). (With a
pair of launchers per family, each compiled with the family's loop inside it, numba
spent about 3 s more on a family's first step: the parallel pipeline and a second
optimisation of the loop.)

Threads: as many as torch uses (``torch.get_num_threads()``, at most numba's pool), so
``torch.set_num_threads(1)`` keeps the optimizer on one core too.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numba
import numpy as np
import torch
from llvmlite import ir
from numba import carray, njit, prange, types
from numba.extending import intrinsic

from .machine_code import c_function, compiled

BLOCK = 16384

#: Groups with fewer elements than this run on the calling thread: waking the other cores costs more.
PARALLEL_MIN = 4 * BLOCK

#: The block of a parallel replayed launch (:func:`bound`) of a group under :data:`SPLIT_MAX` values.
#: numba's OpenMP threads take equal counts of consecutive blocks, so a group of few blocks splits
#: unevenly where a tensor's last block or a small tensor is among them: the articles' MLP (101,770
#: values, 10 blocks of 16,384) put 81,920 values on one thread and 19,850 on the other; in blocks
#: of 2,048, 53,248 and 48,522. Larger groups keep :data:`BLOCK` (fewer calls of the entry point).
SPLIT_BLOCK = BLOCK // 8
SPLIT_MAX = 64 * BLOCK

block_kernel = njit(error_model="numpy", nogil=True)
#: element helpers, inlined into the loops that call them (so those loops still vectorise)
element = njit(error_model="numpy", nogil=True, inline="always")


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


_F64 = np.zeros(1)  # the dtype of per-block sums


@block_kernel
def block_sums(extra, starts, tensors, columns):
    """The ``(blocks, columns)`` float64 sums at address ``extra`` (:attr:`.contract.FusedKernel.reductions`:
    one row per block, ``starts[tensors]`` blocks in all), where each block writes its row."""
    blocks = starts[tensors]
    return memory_at(extra, 0, blocks * columns, _F64).reshape((blocks, columns))


@block_kernel
def locate(b, sizes, starts, block):
    """Block ``b`` of the table: its tensor and the element range ``lo:hi`` within it."""
    t = np.searchsorted(starts, b, side="right") - 1
    lo = (b - starts[t]) * block
    return t, lo, min(lo + block, sizes[t])


def block_starts(sizes: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """``starts`` for tensors of ``sizes`` elements: the cumulative count of their blocks."""
    starts = np.zeros(len(sizes) + 1, np.int64)
    np.cumsum((sizes + block - 1) // block, out=starts[1:])
    return starts


#: ``starts`` of the tables seen lately, by their sizes: a group's sizes rarely change, and
#: counting its blocks every step cost a small model's step about 5 us. Bounded, read-only.
_starts: OrderedDict[bytes | tuple[int, bytes], np.ndarray] = OrderedDict()
KEPT_STARTS = 64


def kept_starts(sizes: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """:func:`block_starts` of ``sizes``, once per distinct sizes (shared: read-only)."""
    key = sizes.tobytes() if block == BLOCK else (block, sizes.tobytes())
    starts = _starts.get(key)
    if starts is None:
        starts = _starts[key] = block_starts(sizes, block)
        starts.flags.writeable = False
        if len(_starts) > KEPT_STARTS:
            _starts.popitem(last=False)
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


def entry_signature(dtype: np.dtype) -> types.Signature:
    """The C signature of a family's entry point for parameters of ``dtype``.

    ``entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count)``:
    block ``b`` of the table whose arrays start at the given addresses (``addresses`` is
    ``tensors x width``, ``scalars`` ``tensors x count``), and the address of one more array
    a family may need, ``extra`` (SWATS's ``sums``, ``blocks x extra_count`` float64; the
    16-bit kernel's rounding seeds), 0 where it needs none.
    """
    pointer = types.CPointer
    return types.void(
        types.int64,
        pointer(types.int64),
        types.int64,
        types.int64,
        pointer(types.int64),
        pointer(types.int64),
        pointer(numba.from_dtype(np.dtype(dtype))),
        types.int64,
        types.int64,
        types.int64,
        types.int64,
    )


@block_kernel
def table(addresses, tensors, width, sizes, starts, scalars, count):
    """An entry point's table as arrays: ``(addresses, sizes, starts, scalars)``."""
    return (
        carray(addresses, (tensors, width)),
        carray(sizes, tensors),
        carray(starts, tensors + 1),
        carray(scalars, (tensors, count)),
    )


_ENTRIES: dict[tuple, int] = {}


def entry_point(function, dtype: np.dtype) -> int:
    """The address of ``function`` (a family's entry, :func:`entry_signature`) compiled for ``dtype``.

    Compiled on first use (and cached, :mod:`.machine_code`), as a C function that the
    launchers call through its address: a family's first step compiles only its own loop.
    """
    key = (function, np.dtype(dtype))
    if key not in _ENTRIES:  # (a numba signature takes ~30 us to build: once, not every step)
        _ENTRIES[key] = compiled(function, entry_signature(dtype))
    return _ENTRIES[key]


@intrinsic
def _call_entry(
    typingctx,
    function,
    b,
    addresses,
    tensors,
    width,
    sizes,
    starts,
    scalars,
    count,
    block,
    extra,
    extra_count,
):
    """Call the entry point at address ``function`` (:func:`entry_signature`; every argument an integer:
    its pointers are passed as the 64-bit addresses they are)."""
    arguments = (b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count)
    if not all(isinstance(a, types.Integer) for a in (function, *arguments)):
        return None
    signature = types.void(function, *arguments)

    def codegen(context, builder, sig, args):
        i64 = context.get_value_type(types.int64)
        values = [
            context.cast(builder, v, t, types.int64) for v, t in zip(args[1:], sig.args[1:], strict=True)
        ]
        kind = ir.FunctionType(ir.VoidType(), [i64] * len(values))
        builder.call(builder.inttoptr(args[0], kind.as_pointer()), values)
        return context.get_dummy_value()

    return signature, codegen


def run_blocks(
    function, blocks, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count
):
    """The launcher: every block of the table through the entry point ``function`` (compiled
    with ``parallel`` its loop runs over numba's threads, without it on the calling thread)."""
    for b in prange(blocks):
        _call_entry(
            function, b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count
        )


LAUNCHER_SIGNATURE = types.void(*[types.int64] * 12)
_LAUNCHERS: dict[bool, Callable[..., None]] = {}


def launcher(parallel: bool) -> Callable[..., None]:
    """:func:`run_blocks` compiled, with or without ``parallel``, as a Python callable."""
    if parallel not in _LAUNCHERS:
        address = compiled(run_blocks, LAUNCHER_SIGNATURE, parallel)
        _LAUNCHERS[parallel] = c_function(address, len(LAUNCHER_SIGNATURE.args))
    return _LAUNCHERS[parallel]


def run(
    entry: int,
    starts: np.ndarray,
    addresses: np.ndarray,
    sizes: np.ndarray,
    scalars: np.ndarray,
    block: int,
    extra: np.ndarray | None = None,
) -> None:
    """Call the entry point at address ``entry`` for every block of a table (``starts``: its
    blocks' starts), on this thread or on as many threads as torch uses.

    The arrays are passed by address, so they must be C-contiguous: ``addresses``,
    ``sizes`` and ``starts`` int64, ``scalars`` of the dtype ``entry`` was compiled for.
    Small tables (under :data:`PARALLEL_MIN` values) stay on the calling thread. numba's
    thread count is set to torch's for the call and restored after, so that a parallel
    kernel never changes the count torch reads from the shared OpenMP runtime.
    """
    call(table_arguments(entry, starts, addresses, sizes, scalars, block, extra), sizes.sum() < PARALLEL_MIN)


def table_arguments(
    entry: int,
    starts: np.ndarray,
    addresses: np.ndarray,
    sizes: np.ndarray,
    scalars: np.ndarray,
    block: int,
    extra: np.ndarray | None = None,
) -> tuple[int, ...]:
    """The launcher's twelve integers for a table (:func:`run_blocks`): its arrays by address."""
    return (
        entry,
        int(starts[-1]),
        addresses.ctypes.data,
        addresses.shape[0],
        addresses.shape[1],
        sizes.ctypes.data,
        starts.ctypes.data,
        scalars.ctypes.data,
        scalars.shape[1],
        block,
        0 if extra is None else extra.ctypes.data,
        0 if extra is None else extra.shape[-1],
    )


def call(arguments: tuple[int, ...], small: bool, split: tuple[int, ...] | None = None) -> None:
    """Run the launcher on ``arguments`` (:func:`table_arguments`): on this thread for a ``small``
    table or a single thread, else on as many threads as torch uses (numba's count set for the
    call and restored after, so that it never changes the count torch reads from the shared
    OpenMP runtime), with the arguments ``split`` where given (the same table in finer blocks)."""
    threads = min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)
    if threads <= 1 or small:
        launcher(parallel=False)(*arguments)
        return
    arguments = split or arguments
    previous = numba.get_num_threads()
    if previous != threads:
        numba.set_num_threads(threads)
    try:
        launcher(parallel=True)(*arguments)
    finally:
        if previous != threads:
            numba.set_num_threads(previous)


def bound(kernel, addresses: np.ndarray, sizes: np.ndarray, scalars: np.ndarray) -> Callable[[], None]:
    """:func:`launch` of ``kernel`` (without reductions) over these arrays, its arguments worked out
    once (:func:`bind`)."""
    if kernel.reductions:
        raise ValueError(f"bound: the {kernel.name!r} kernel returns sums; use launch()")
    entry = entry_point(kernel.entry, scalars.dtype)
    return with_split(bind(entry, kept_starts(sizes), addresses, sizes, scalars, BLOCK), entry)


def with_split(launch: Callable[[], None], entry: int) -> Callable[[], None]:
    """``launch`` (:func:`bind`'s, in blocks of :data:`BLOCK`) given its split where its group has
    :data:`PARALLEL_MIN` to :data:`SPLIT_MAX` values: the same table in blocks of :data:`SPLIT_BLOCK`,
    which a launch on several threads takes. Only for a kernel without sums, whose values are
    updated each on its own: the same bits in any blocks."""
    addresses, sizes, _, scalars, extra = launch.arrays  # type: ignore[attr-defined]
    if PARALLEL_MIN <= sizes.sum() < SPLIT_MAX:
        split = bind(entry, kept_starts(sizes, SPLIT_BLOCK), addresses, sizes, scalars, SPLIT_BLOCK, extra)
        launch.split = split.arguments  # type: ignore[attr-defined]
        launch.arrays += split.arrays  # type: ignore[attr-defined]  (its starts, kept alive by the call)
    return launch


def bind(
    entry: int,
    starts: np.ndarray,
    addresses: np.ndarray,
    sizes: np.ndarray,
    scalars: np.ndarray,
    block: int,
    extra: np.ndarray | None = None,
) -> Callable[[], None]:
    """:func:`run` with these arguments as a call of no arguments, worked out once: for a caller
    that keeps the arrays alive and writes a later step's values into them in place
    (:mod:`adamkit.torch.replay`). Reading five arrays' addresses cost about 4 us a step."""
    arrays = [(addresses, np.int64), (sizes, np.int64), (starts, np.int64), (scalars, scalars.dtype)]
    if not all(a.flags.c_contiguous and a.dtype == dtype for a, dtype in arrays):
        raise ValueError("bind: the table's arrays must be C-contiguous int64 (scalars: the kernel's dtype)")
    arguments = table_arguments(entry, starts, addresses, sizes, scalars, block, extra)
    small = bool(sizes.sum() < PARALLEL_MIN)

    def launch() -> None:
        call(arguments, small, launch.split)  # type: ignore[attr-defined]

    launch.arguments, launch.split = arguments, None  # type: ignore[attr-defined]

    # the arguments hold the arrays' addresses: the call keeps the arrays alive (``starts`` may be
    # a temporary, or evicted from :func:`kept_starts`)
    launch.arrays = (addresses, sizes, starts, scalars, extra)  # type: ignore[attr-defined]
    return launch


def launch(
    kernel, addresses: np.ndarray, sizes: np.ndarray, scalars: np.ndarray, device: torch.device | None = None
) -> np.ndarray | None:
    """Run ``kernel`` over the table (:func:`run`).

    ``device`` is the CPU (launchers of other devices need theirs).

    Returns the per-tensor sums, shape ``(tensors, kernel.reductions)``, for a kernel with
    reductions; ``None`` otherwise.
    """
    addresses = np.ascontiguousarray(addresses, np.int64)
    sizes = np.ascontiguousarray(sizes, np.int64)
    scalars = np.ascontiguousarray(scalars)
    starts = kept_starts(sizes)
    sums = np.zeros((starts[-1], kernel.reductions)) if kernel.reductions else None
    run(entry_point(kernel.entry, scalars.dtype), starts, addresses, sizes, scalars, BLOCK, sums)
    return None if sums is None else tensor_totals(sums, starts)
