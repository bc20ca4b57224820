r"""AdEMAMix (:mod:`adamkit.rules.ademamix`) in one pass: read p, g, m1, v, m2; write p, m1, v, m2.

Per element, in the rule's order and in the parameter's dtype (the warm-ups of
:math:`\alpha` and :math:`\beta_3` are host scalars of the step):

.. math::

    m_1 &\leftarrow m_1 + (1-\beta_1)(g - m_1),\quad v \leftarrow v\beta_2 + (1-\beta_2) g^2,\quad
    m_2 \leftarrow m_2 + (1-\beta_3(t))(g - m_2)\\
    \theta &\leftarrow \theta - \eta\,\frac{m_1/(1-\beta_1^t) + \alpha(t)\,m_2}
        {\sqrt v/\sqrt{1-\beta_2^t} + \epsilon} - \eta\lambda\theta

36 bytes per float32 parameter move. ``cautious=True`` (:mod:`.cautious`): a first pass counts
the coordinates where the numerator agrees with the gradient (reads g, m1, m2: 12 bytes), then
this kernel masks and rescales the numerator (48 bytes in all).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ...rules.ademamix import alpha_at, beta3_at
from ...rules.spec import Hyper, State
from .cautious import cautious_kernel
from .contract import FusedKernel, no_options
from .jit import block_kernel, block_sums, decayed, locate, memory_at, table


@block_kernel
def ademamix_block(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    exp_avg_slow,
    sign,
    l2,
    weight_decay,
    decay,
    one_minus_beta1,
    beta2,
    one_minus_beta2,
    one_minus_beta3,
    bias_correction1,
    alpha,
    bias_correction2_sqrt,
    eps,
    lr,
    decays,
    lr_wd,
    cautious,
    scale,
):
    for i in range(param.size):
        g, p = decayed(grad[i], param[i], sign, l2, weight_decay, decay)  # no decay here: 0 and 1
        m = exp_avg[i] + one_minus_beta1 * (g - exp_avg[i])
        v = exp_avg_sq[i] * beta2 + one_minus_beta2 * (g * g)
        slow = exp_avg_slow[i] + one_minus_beta3 * (g - exp_avg_slow[i])
        exp_avg[i] = m
        exp_avg_sq[i] = v
        exp_avg_slow[i] = slow
        numerator = m / bias_correction1 + alpha * slow
        if cautious:  # the rule's numerator * (mask * scale)
            numerator = numerator * (scale * (numerator * g > 0))
        new = p - lr * (numerator / (np.sqrt(v) / bias_correction2_sqrt + eps))
        if decays:  # decoupled, at the old parameter
            new = new - lr_wd * p
        param[i] = new


@block_kernel
def ademamix_work(b, addresses, sizes, starts, scalars, block):
    """Block ``b`` of the table (see :mod:`.jit`), with its tensor's scalars from :func:`scalars`."""
    t, lo, hi = locate(b, sizes, starts, block)
    a, s = addresses[t], scalars[t]
    ademamix_block(
        memory_at(a[0], lo, hi, scalars),
        memory_at(a[1], lo, hi, scalars),
        memory_at(a[2], lo, hi, scalars),
        memory_at(a[3], lo, hi, scalars),
        memory_at(a[4], lo, hi, scalars),
        s[0],
        s[1] != 0,
        s[2],
        s[3],
        s[4],
        s[5],
        s[6],
        s[7],
        s[8],
        s[9],
        s[10],
        s[11],
        s[12],
        s[13] != 0,
        s[14],
        s[15] != 0,
        s[16],
    )


@block_kernel
def ademamix_agreeing(
    grad, exp_avg, exp_avg_slow, sign, one_minus_beta1, one_minus_beta3, bias_correction1, alpha
):
    """How many elements of a block the cautious mask keeps: the new numerator (as
    :func:`ademamix_block` computes it) agrees with the gradient."""
    count = 0
    for i in range(grad.size):
        g = grad[i] * sign
        m = exp_avg[i] + one_minus_beta1 * (g - exp_avg[i])
        slow = exp_avg_slow[i] + one_minus_beta3 * (g - exp_avg_slow[i])
        numerator = m / bias_correction1 + alpha * slow
        count += 1 if numerator * g > 0 else 0
    return count


@block_kernel
def ademamix_count_work(b, addresses, sizes, starts, scalars, block, sums):
    """Block ``b``'s count of agreeing coordinates, into its row of ``sums``."""
    t, lo, hi = locate(b, sizes, starts, block)
    a, s = addresses[t], scalars[t]
    sums[b, 0] = ademamix_agreeing(
        memory_at(a[1], lo, hi, scalars),
        memory_at(a[2], lo, hi, scalars),
        memory_at(a[4], lo, hi, scalars),
        s[0],
        s[4],
        s[7],
        s[8],
        s[9],
    )


def ademamix_count_entry(
    b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count
):
    """The C entry point of :func:`ademamix_count_work` (:func:`.jit.entry_signature`)."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    sums = block_sums(extra, s, tensors, extra_count)
    ademamix_count_work(b, a, z, s, c, block, sums)


def ademamix_entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """The C entry point of :func:`ademamix_work` (:func:`.jit.entry_signature`)."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    ademamix_work(b, a, z, s, c, block)


def arrays(state: State, param, hp: Hyper) -> tuple:
    return state["exp_avg"], state["exp_avg_sq"], state["exp_avg_slow"]


def scalars(hp: Hyper, state: State) -> tuple[tuple, State]:
    """The rule's scalars (:func:`adamkit.rules.ademamix.update`), in Python float64."""
    lr, (beta1, beta2, _), wd = float(hp["lr"]), hp["betas"], float(hp["weight_decay"])
    step = state["step"] + 1
    args = (
        -1.0 if hp["maximize"] else 1.0,  # 0: sign
        False,  # 1: l2 (none: the decay is decoupled, applied at the end)
        0.0,  # 2: weight_decay (for the shared prologue)
        1.0,  # 3: decay (idem)
        1 - float(beta1),  # 4
        float(beta2),  # 5
        1 - float(beta2),  # 6
        1 - beta3_at(hp, step),  # 7
        1 - beta1**step,  # 8: bias_correction1
        alpha_at(hp, step),  # 9
        math.sqrt(1 - beta2**step),  # 10: bias_correction2_sqrt
        float(hp["eps"]),  # 11
        lr,  # 12
        wd != 0,  # 13: decays
        lr * wd,  # 14
        bool(hp["cautious"]),  # 15: cautious
        1.0,  # 16: scale (the second pass writes each tensor's: .cautious)
    )
    return args, {"step": step}


_PLAIN = FusedKernel("ademamix", ademamix_entry, arrays, scalars)
ADEMAMIX_KERNEL = replace(
    _PLAIN,
    supports=no_options("cautious"),
    variants=(("cautious", cautious_kernel(_PLAIN, ademamix_count_entry, 16)),),
)
