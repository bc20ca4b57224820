r"""LAMB (:mod:`adamkit.rules.lamb`) in two passes: the trust ratio is a reduction over each tensor.

The update of every element needs :math:`\rho = \lVert\theta\rVert / \lVert r\rVert`, which needs the
whole tensor's direction :math:`r` first. Storing :math:`r` would cost a write and a read of a
model-sized array; it is recomputed instead, from the moments, which the first pass stores anyway:

* **first pass** (reads p, g, m, v; writes m, v): per block, Adam's moments in the rule's order,

  .. math::

      g \leftarrow \pm g,\quad m \leftarrow m + (1-\beta_1)(g - m),\quad
      v \leftarrow v\beta_2 + (1-\beta_2) g^2,

  then, over the same block while it is in cache, :math:`\sum \theta^2` and :math:`\sum r^2`
  with :math:`r = (m/(1-\beta_1^t)) / (\sqrt v/\sqrt{1-\beta_2^t} + \epsilon) + \lambda\theta`,
  accumulated in float64, one partial sum per block (:mod:`.jit`);
* the host adds each tensor's blocks and computes :math:`\rho` (1 where either norm is zero, as
  :func:`adamkit.rules.lamb.trust_ratio`);
* **second pass** (reads p, m, v; writes p): :math:`r` again, operation for operation the rule's,
  and :math:`\theta \leftarrow \theta - \eta(\rho\, r)`.

40 bytes per float32 parameter move (Adam's 28 plus the second read of p, m, v and write of p).
The step is the rule's in the parameter's dtype; only :math:`\rho` differs from the reference
engine's in its last bits: the sums run in float64 in blocks (the rule sums in the tensor's
dtype with torch's order), and LLVM may reorder them (``reassoc``, so that they vectorise).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ...rules.spec import Hyper, State, namespace, one_minus_power
from .contract import FusedKernel, SecondPass, cast
from .jit import block_kernel, block_sums, element, locate, memory_at, table

#: For the sums only (see :mod:`.swats`): the update itself is compiled without fast-math.
reduction_kernel = njit(error_model="numpy", nogil=True, fastmath={"reassoc"})


@element
def direction(p, m, v, bias_correction1, bias_correction2_sqrt, eps, weight_decay, decays):
    """The rule's direction ``r`` of one element, in its order of operations."""
    r = (m / bias_correction1) / (np.sqrt(v) / bias_correction2_sqrt + eps)
    if decays:
        r = r + weight_decay * p
    return r


@block_kernel
def lamb_moments(grad, exp_avg, exp_avg_sq, sign, one_minus_beta1, beta2, one_minus_beta2):
    for i in range(grad.size):
        g = grad[i] * sign
        m = exp_avg[i]
        exp_avg[i] = m + one_minus_beta1 * (g - m)  # lerp(exp_avg, grad, 1 - beta1)
        exp_avg_sq[i] = exp_avg_sq[i] * beta2 + one_minus_beta2 * (g * g)


@reduction_kernel
def lamb_norms(
    param, exp_avg, exp_avg_sq, bias_correction1, bias_correction2_sqrt, eps, weight_decay, decays
):
    """``(sum(p * p), sum(r * r))`` over a block, in float64."""
    param_sq = 0.0
    direction_sq = 0.0
    for i in range(param.size):
        p = param[i]
        r = np.float64(
            direction(p, exp_avg[i], exp_avg_sq[i], bias_correction1, bias_correction2_sqrt, eps,
                      weight_decay, decays)
        )
        param_sq += np.float64(p) * np.float64(p)
        direction_sq += r * r
    return param_sq, direction_sq


@block_kernel
def lamb_apply(param, exp_avg, exp_avg_sq, bias_correction1, bias_correction2_sqrt, eps, weight_decay, decays,
               lr, ratio):
    for i in range(param.size):
        p = param[i]
        r = direction(p, exp_avg[i], exp_avg_sq[i], bias_correction1, bias_correction2_sqrt, eps,
                      weight_decay, decays)
        param[i] = p - lr * (ratio * r)


@block_kernel
def lamb_sums_work(b, addresses, sizes, starts, scalars, block, sums):
    """Block ``b``: the new moments, then its row of ``sums`` (:func:`lamb_norms`)."""
    t, lo, hi = locate(b, sizes, starts, block)
    a, s = addresses[t], scalars[t]
    param = memory_at(a[0], lo, hi, scalars)
    exp_avg = memory_at(a[2], lo, hi, scalars)
    exp_avg_sq = memory_at(a[3], lo, hi, scalars)
    lamb_moments(memory_at(a[1], lo, hi, scalars), exp_avg, exp_avg_sq, s[0], s[4], s[5], s[6])
    param_sq, direction_sq = lamb_norms(param, exp_avg, exp_avg_sq, s[7], s[8], s[9], s[10], s[11] != 0)
    sums[b, 0] = param_sq
    sums[b, 1] = direction_sq


def lamb_sums_entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """The C entry point of :func:`lamb_sums_work` (:func:`.jit.entry_signature`)."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    sums = block_sums(extra, s, tensors, extra_count)
    lamb_sums_work(b, a, z, s, c, block, sums)


@block_kernel
def lamb_apply_work(b, addresses, sizes, starts, scalars, block):
    """Block ``b``: the update, with its tensor's trust ratio in scalar 13."""
    t, lo, hi = locate(b, sizes, starts, block)
    a, s = addresses[t], scalars[t]
    lamb_apply(
        memory_at(a[0], lo, hi, scalars),
        memory_at(a[2], lo, hi, scalars),
        memory_at(a[3], lo, hi, scalars),
        s[7],
        s[8],
        s[9],
        s[10],
        s[11] != 0,
        s[12],
        s[13],
    )


def lamb_apply_entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """The C entry point of :func:`lamb_apply_work` (:func:`.jit.entry_signature`)."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    lamb_apply_work(b, a, z, s, c, block)


def arrays(state: State, param, hp: Hyper) -> tuple:
    return state["exp_avg"], state["exp_avg_sq"]


def scalars(hp: Hyper, state: State) -> tuple[tuple, State]:
    """The rule's scalars (:func:`adamkit.rules.lamb.update`), in Python float64."""
    (beta1, beta2), wd = hp["betas"], float(hp["weight_decay"])
    step = state["step"] + 1
    args = (
        -1.0 if hp["maximize"] else 1.0,  # 0: sign
        False,  # 1: l2 (none; 0-3 as every family's, unused here)
        0.0,  # 2
        1.0,  # 3
        1 - float(beta1),  # 4
        float(beta2),  # 5
        1 - float(beta2),  # 6
        one_minus_power(beta1, step),  # 7: bias_correction1
        math.sqrt(one_minus_power(beta2, step)),  # 8: bias_correction2_sqrt
        float(hp["eps"]),  # 9
        wd,  # 10: weight_decay, added to the direction
        wd != 0,  # 11: decays
        float(hp["lr"]),  # 12
    )
    return args, {"step": step}


def trust_ratios(first: np.ndarray, totals: np.ndarray, sizes: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The second pass's scalars: the first's, then each tensor's trust ratio (scalar 13), as
    :func:`adamkit.rules.lamb.trust_ratio` computes it in the tensor's dtype from the sums of squares."""
    xp = namespace(totals)  # NumPy, or torch on the device (a GPU's sums: .contract.SecondPass)
    norms = xp.sqrt(cast(totals, dtype))
    param_norm, direction_norm = norms[:, 0], norms[:, 1]
    zero = (param_norm == 0) | (direction_norm == 0)
    ratio = cast(xp.where(zero, 1, param_norm / xp.where(direction_norm == 0, 1, direction_norm)), dtype)
    return xp.column_stack([first, cast(ratio, np.float64)])


LAMB_APPLY_KERNEL = FusedKernel("lamb-apply", lamb_apply_entry, arrays, scalars)
LAMB_KERNEL = FusedKernel(
    "lamb", lamb_sums_entry, arrays, scalars, reductions=2, then=SecondPass(LAMB_APPLY_KERNEL, trust_ratios)
)
