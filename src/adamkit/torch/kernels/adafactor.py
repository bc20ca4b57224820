r"""Adafactor (:mod:`adamkit.rules.adafactor`) in passes: its factors are sums over rows and columns.

A matrix's step needs the new row and column factors :math:`R, C` (means of :math:`G^2` over each
row and each column), then the RMS of the whole update :math:`U = G/\sqrt{\max(R C/\bar R, \epsilon_1^2)}`
before any element can move. No pass can do both, so a step is four launches over one table
(:mod:`adamkit.torch.fused_adafactor` builds it), each spread over the cores in *units*:

1. **sums** (reads p, g): per unit, :math:`\sum\theta^2` (the step size's RMS) and, for a matrix,
   the sums of :math:`G^2` over each of its rows and, per column, over its rows, in float64 into
   a scratch array; a vector's unit updates its full second moment
   :math:`\hat V \leftarrow \hat V + w(G^2 - \hat V)` and adds up :math:`\sum\theta^2` and
   :math:`\sum U^2` at once (a vector's :math:`U` is elementwise);
2. **factors** (one unit per matrix, O(rows + columns x units)): the column sums of its units
   added in unit order, both factors lerped as the rule, :math:`\max(\mathrm{mean}(R), \epsilon_1)`
   per slice;
3. **update sums** (reads g): per matrix unit, :math:`\sum U^2` from the new factors;
4. **apply** (reads p, g; writes p): :math:`U` again, operation for operation the rule's, and
   :math:`\theta \leftarrow \theta\,(1-\eta\lambda) - s\,U` with the step size
   :math:`s = \max(\epsilon_2, \mathrm{RMS}(\theta))\,\rho_t / \max(1, \mathrm{RMS}(U)/d)` from the
   host.

A matrix's unit is a run of whole rows of one slice (tensors of more than two dimensions are
factored per slice of their last two), at least :data:`UNIT_ROWS` rows (all of a slice's, if it has
fewer), so a unit owns its rows' sums, and the scratch array holds 8 bytes per column of each unit
and per row: under 1/100 of a float32 matrix of many rows (a matrix of a few rows: twice its column
factor's bytes). A vector's unit is a block of
:data:`.jit.BLOCK` elements. Every unit writes only its own outputs, so the result does not
depend on the number of threads. 16 bytes per float32 element move, plus the 8 of the update's
pass over the gradient: 24 in all (torch.optim.Adafactor writes and reads two temporaries of the
parameter's size).

What equals the rule: the factors are its lerps of the means in the parameter's dtype, the means
rounded from float64 sums (the rule sums in the dtype, torch's order); the update :math:`U` and the
step are its operations in its order. The sums of squares behind the two RMS run in float64, may be
reordered by LLVM (``reassoc``, so that they vectorise) and so differ from the rule's in the last
bits, as LAMB's norms (:mod:`.lamb`).

The table (per tensor ``t``, ``addresses[t]``): param, grad, the row factor or the vector's
variance, the column factor (0 for a vector), the tensor's float64 scratch (0 for a vector), then
its layout as integers: slices, rows, columns (0: a vector), rows per unit, units per slice.
Scalars, in the dtype: sign (maximize), the new square's weight :math:`t^c`, :math:`\epsilon_1`,
:math:`\epsilon_1^2`, :math:`1 - \eta\lambda`, the step size (for the apply pass), rows, columns.
A matrix's scratch: its units' column sums (slices x units x columns), its rows' sums
(slices x rows), then each slice's :math:`\max(\mathrm{mean}(R), \epsilon_1)`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .jit import BLOCK, block_kernel, block_sums, element, memory_at, table

#: For the sums only (see :mod:`.lamb`): the factors and the update are compiled without fast-math.
reduction_kernel = njit(error_model="numpy", nogil=True, fastmath={"reassoc"})

#: A matrix's unit has at least this many rows (and about 64Ki elements when rows are short).
UNIT_ROWS = 256
UNIT_ELEMENTS = 1 << 16

# columns of a tensor's row in the table (see the module's doc)
PARAM, GRAD, ROW_VAR, COL_VAR, SCRATCH, SLICES, ROWS, COLS, UNIT, UNITS = range(10)
WIDTH = 10
# scalars
SIGN, WEIGHT, EPS1, FLOOR, DECAY, STEP_SIZE, ROWS_REAL, COLS_REAL = range(8)
SCALARS = 8

_F64 = np.zeros(1)  # the dtype of the scratch


def unit_rows(rows: int, cols: int) -> int:
    """Rows per unit of a ``rows x cols`` slice: at least :data:`UNIT_ROWS`, about
    :data:`UNIT_ELEMENTS` elements when rows are short (fewer when the slice has fewer rows)."""
    return max(1, min(rows, max(UNIT_ROWS, -(-UNIT_ELEMENTS // max(cols, 1)))))


def scratch_size(slices: int, rows: int, cols: int, units: int) -> int:
    """Float64 values of a matrix's scratch: its units' column sums, its rows' sums, its slices'
    denominators."""
    return slices * (units * cols + rows + 1)


@element
def direction(g, variance, floor):
    """The rule's update of one element: ``g / sqrt(max(variance, eps1**2))`` (NaN stays NaN)."""
    return g / np.sqrt(floor if variance < floor else variance)


@element
def rounded(value, like):
    """``value`` (float64) rounded to ``like``'s dtype, as the rule's sums in that dtype end."""
    return like.dtype.type(value)


# --- vectors: a full second moment, elementwise ---------------------------------------------------


@block_kernel
def vector_moments(grad, variance, sign, weight):
    for i in range(grad.size):
        g = grad[i] * sign
        v = variance[i]
        variance[i] = v + weight * (g * g - v)  # lerp(variance, grad * grad, weight)


@reduction_kernel
def vector_sums(param, grad, variance, sign, floor):
    """``(sum(p * p), sum(u * u))`` over a block, in float64."""
    param_sq = 0.0
    direction_sq = 0.0
    for i in range(param.size):
        p = np.float64(param[i])
        u = np.float64(direction(grad[i] * sign, variance[i], floor))
        param_sq += p * p
        direction_sq += u * u
    return param_sq, direction_sq


@block_kernel
def vector_apply(param, grad, variance, sign, floor, decay, step_size):
    for i in range(param.size):
        u = direction(grad[i] * sign, variance[i], floor)
        param[i] = param[i] * decay - step_size * u


# --- matrices: factored second moment --------------------------------------------------------------


@reduction_kernel
def factor_sums(param, grad, cols, column_sums, row_sums):
    """Over a run of whole rows: each row's sum of ``g * g`` into ``row_sums``, each column's into
    ``column_sums`` (float64); returns ``sum(p * p)``. (The sign of ``g`` does not change its square.)"""
    param_sq = 0.0
    for c in range(cols):
        column_sums[c] = 0.0
    for r in range(row_sums.size):
        # rows as slices, indexed by the loop's counter: numba then knows the index is not negative
        # (no wraparound test), and the loop vectorises
        g_row, p_row = grad[r * cols : (r + 1) * cols], param[r * cols : (r + 1) * cols]
        row = 0.0
        for c in range(cols):
            g = g_row[c]
            square = np.float64(g * g)
            row += square
            column_sums[c] += square
            p = np.float64(p_row[c])
            param_sq += p * p
        row_sums[r] = row
    return param_sq


@block_kernel
def factors(row_var, col_var, scratch, slices, rows, cols, units, weight, eps1, rows_real, cols_real):
    """The new factors of every slice of a matrix, and each slice's ``max(mean(row_var), eps1)``."""
    column_part = slices * units * cols
    for k in range(slices):
        total = scratch[k * units * cols : (k * units + 1) * cols]
        for u in range(1, units):  # in unit order: the same sums on any number of threads
            part = scratch[(k * units + u) * cols : (k * units + u + 1) * cols]
            for c in range(cols):
                total[c] += part[c]
        for c in range(cols):
            old = col_var[k * cols + c]
            mean = rounded(total[c], col_var) / rows_real
            col_var[k * cols + c] = old + weight * (mean - old)  # lerp(col_var, mean, weight)
        row_sum = 0.0
        for r in range(rows):
            old = row_var[k * rows + r]
            mean = rounded(scratch[column_part + k * rows + r], row_var) / cols_real
            new = old + weight * (mean - old)
            row_var[k * rows + r] = new
            row_sum += np.float64(new)
        row_mean = rounded(row_sum, row_var) / rows_real
        scratch[column_part + slices * rows + k] = eps1 if row_mean < eps1 else row_mean


@element
def factored_variance(row, col, denominator):
    """The rule's estimate of one element's second moment: ``(row @ col) / max(mean(row), eps1)``."""
    return (row * col) / denominator


@reduction_kernel
def factored_sums(grad, row_var, col_var, denominator, sign, floor):
    """``sum(u * u)`` over a run of whole rows (``row_var``: their factors), in float64."""
    cols = col_var.size
    direction_sq = 0.0
    for r in range(row_var.size):
        row, g_row = row_var[r], grad[r * cols : (r + 1) * cols]
        for c in range(cols):
            u = np.float64(direction(g_row[c] * sign, factored_variance(row, col_var[c], denominator), floor))
            direction_sq += u * u
    return direction_sq


@block_kernel
def factored_apply(param, grad, row_var, col_var, denominator, sign, floor, decay, step_size):
    cols = col_var.size
    for r in range(row_var.size):
        row, g_row, p_row = row_var[r], grad[r * cols : (r + 1) * cols], param[r * cols : (r + 1) * cols]
        for c in range(cols):
            u = direction(g_row[c] * sign, factored_variance(row, col_var[c], denominator), floor)
            p_row[c] = p_row[c] * decay - step_size * u


# --- where a unit is ------------------------------------------------------------------------------


@block_kernel
def unit_of(b, starts):
    """Unit ``b`` of the table: its tensor and its index within the tensor."""
    t = np.searchsorted(starts, b, side="right") - 1
    return t, b - starts[t]


@block_kernel
def unit_rows_of(a, j):
    """A matrix unit ``j`` (``a``: its tensor's row of the table): its slice and row range."""
    units = a[UNITS]
    k = j // units
    lo = (j % units) * a[UNIT]
    return k, lo, min(lo + a[UNIT], a[ROWS])


@block_kernel
def sums_work(b, addresses, sizes, starts, scalars, sums):
    t, j = unit_of(b, starts)
    a, s = addresses[t], scalars[t]
    cols = a[COLS]
    if cols == 0:  # a vector: its second moment, then both sums
        lo = j * BLOCK
        hi = min(lo + BLOCK, sizes[t])
        param = memory_at(a[PARAM], lo, hi, scalars)
        grad = memory_at(a[GRAD], lo, hi, scalars)
        variance = memory_at(a[ROW_VAR], lo, hi, scalars)
        vector_moments(grad, variance, s[SIGN], s[WEIGHT])
        sums[b, 0], sums[b, 1] = vector_sums(param, grad, variance, s[SIGN], s[FLOOR])
        return
    k, r0, r1 = unit_rows_of(a, j)
    rows, units = a[ROWS], a[UNITS]
    lo, hi = (k * rows + r0) * cols, (k * rows + r1) * cols
    column_sums = memory_at(a[SCRATCH], j * cols, (j + 1) * cols, _F64)
    base = a[SLICES] * units * cols
    row_sums = memory_at(a[SCRATCH], base + k * rows + r0, base + k * rows + r1, _F64)
    param = memory_at(a[PARAM], lo, hi, scalars)
    sums[b, 0] = factor_sums(param, memory_at(a[GRAD], lo, hi, scalars), cols, column_sums, row_sums)
    sums[b, 1] = 0.0


def sums_entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """Pass 1 (:func:`sums_work`), a C entry point (:func:`.jit.entry_signature`)."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    sums_work(b, a, z, s, c, block_sums(extra, s, tensors, extra_count))


@block_kernel
def factors_work(t, addresses, scalars):
    a, s = addresses[t], scalars[t]
    if a[COLS] == 0:
        return
    slices, rows, cols, units = a[SLICES], a[ROWS], a[COLS], a[UNITS]
    factors(
        memory_at(a[ROW_VAR], 0, slices * rows, scalars),
        memory_at(a[COL_VAR], 0, slices * cols, scalars),
        memory_at(a[SCRATCH], 0, slices * (units * cols + rows + 1), _F64),
        slices, rows, cols, units, s[WEIGHT], s[EPS1], s[ROWS_REAL], s[COLS_REAL],
    )


def factors_entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """Pass 2 (one unit per tensor: :func:`factors_work`), a C entry point."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    factors_work(b, a, c)


@block_kernel
def matrix_unit(a, j, scalars):
    """A matrix unit's arrays: param and grad over its rows, their row factors, its slice's column
    factors, and the slice's denominator (in the dtype)."""
    k, r0, r1 = unit_rows_of(a, j)
    slices, rows, cols, units = a[SLICES], a[ROWS], a[COLS], a[UNITS]
    lo, hi = (k * rows + r0) * cols, (k * rows + r1) * cols
    denominator = memory_at(a[SCRATCH], 0, slices * (units * cols + rows + 1), _F64)[
        slices * (units * cols + rows) + k
    ]
    return (
        memory_at(a[PARAM], lo, hi, scalars),
        memory_at(a[GRAD], lo, hi, scalars),
        memory_at(a[ROW_VAR], k * rows + r0, k * rows + r1, scalars),
        memory_at(a[COL_VAR], k * cols, (k + 1) * cols, scalars),
        rounded(denominator, scalars),
    )


@block_kernel
def update_sums_work(b, addresses, starts, scalars, sums):
    t, j = unit_of(b, starts)
    a, s = addresses[t], scalars[t]
    if a[COLS] == 0:  # a vector's sums came with its moments
        return
    _, grad, row_var, col_var, denominator = matrix_unit(a, j, scalars)
    sums[b, 1] = factored_sums(grad, row_var, col_var, denominator, s[SIGN], s[FLOOR])


def update_sums_entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """Pass 3 (:func:`update_sums_work`), a C entry point."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    update_sums_work(b, a, s, c, block_sums(extra, s, tensors, extra_count))


@block_kernel
def apply_work(b, addresses, sizes, starts, scalars):
    t, j = unit_of(b, starts)
    a, s = addresses[t], scalars[t]
    if a[COLS] == 0:
        lo = j * BLOCK
        hi = min(lo + BLOCK, sizes[t])
        vector_apply(
            memory_at(a[PARAM], lo, hi, scalars),
            memory_at(a[GRAD], lo, hi, scalars),
            memory_at(a[ROW_VAR], lo, hi, scalars),
            s[SIGN], s[FLOOR], s[DECAY], s[STEP_SIZE],
        )
        return
    param, grad, row_var, col_var, denominator = matrix_unit(a, j, scalars)
    factored_apply(param, grad, row_var, col_var, denominator, s[SIGN], s[FLOOR], s[DECAY], s[STEP_SIZE])


def apply_entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """Pass 4 (:func:`apply_work`), a C entry point."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    apply_work(b, a, z, s, c)
