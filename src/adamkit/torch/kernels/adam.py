r"""Adam and AdamW (:mod:`adamkit.rules.adam`) in one pass: read p, g, m, v; write p, m, v.

Per element, in the rule's order and in the parameter's dtype:

.. math::

    g &\leftarrow \pm g \;(+\lambda\theta \text{ for L2}),\quad
    \theta \leftarrow \theta\,(1-\eta\lambda) \text{ (decoupled; factor 1 otherwise)}\\
    m &\leftarrow m + (1-\beta_1)(g - m),\quad
    v \leftarrow v\beta_2 + (1-\beta_2)g^2,\quad
    \hat v \leftarrow \max(\hat v, v) \text{ (AMSGrad)}\\
    \theta &\leftarrow \theta - s\,\frac{m}{\sqrt{\hat v}/c_2 + \epsilon}

with the step size :math:`s = \eta/(1-\beta_1^t)` and :math:`c_2 = \sqrt{1-\beta_2^t}`
computed once per step on the host (for ``eps_hat``, :math:`s = \eta c_2/(1-\beta_1^t)`
and :math:`c_2 = 1`: dividing by one is exact). 28 bytes per float32 parameter move
(36 with AMSGrad), which is the least any Adam can move.

``cautious=True`` (:mod:`.cautious`): a first pass computes the update
:math:`u = m/(\sqrt{\hat v}/c_2 + \epsilon)` of each element without writing anything and
counts where :math:`u g > 0` (reads p, g, m, v: 16 bytes), then this kernel masks and rescales
:math:`u` (44 bytes in all).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ...rules.adam import step_scalars
from ...rules.spec import Hyper, State
from .cautious import cautious_kernel
from .contract import FusedKernel, decay_scalars, no_options
from .jit import block_kernel, block_sums, decayed, element, locate, memory_at, table


@element
def moments(g, exp_avg, exp_avg_sq, max_exp_avg_sq, i, one_minus_beta1, beta2, one_minus_beta2, amsgrad):
    """One element's new ``(m, v, second)``: ``second`` is the v the update divides by (AMSGrad's
    running maximum, ``max_exp_avg_sq[i]`` read only then, NaN propagating as torch.maximum)."""
    m = exp_avg + one_minus_beta1 * (g - exp_avg)  # lerp(exp_avg, grad, 1 - beta1)
    v = exp_avg_sq * beta2 + one_minus_beta2 * (g * g)
    second = v
    if amsgrad:
        old = max_exp_avg_sq[i]
        second = old if (old > v or old != old) else v
    return m, v, second


@block_kernel
def adam_block(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    max_exp_avg_sq,
    sign,
    l2,
    weight_decay,
    decay,
    one_minus_beta1,
    beta2,
    one_minus_beta2,
    amsgrad,
    step_size,
    bias_correction2_sqrt,
    eps,
    cautious,
    scale,
):
    for i in range(param.size):
        g, p = decayed(grad[i], param[i], sign, l2, weight_decay, decay)
        m, v, second = moments(g, exp_avg[i], exp_avg_sq[i], max_exp_avg_sq, i, one_minus_beta1, beta2,
                               one_minus_beta2, amsgrad)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        if amsgrad:
            max_exp_avg_sq[i] = second
        u = m / (np.sqrt(second) / bias_correction2_sqrt + eps)
        if cautious:  # the rule's u * (mask * scale)
            u = u * (scale * (u * g > 0))
        param[i] = p - step_size * u


@block_kernel
def adam_agreeing(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    max_exp_avg_sq,
    sign,
    l2,
    weight_decay,
    decay,
    one_minus_beta1,
    beta2,
    one_minus_beta2,
    amsgrad,
    bias_correction2_sqrt,
    eps,
):
    """How many elements of a block the cautious mask keeps: the update ``u`` (as
    :func:`adam_block` computes it, nothing written) agrees with the gradient."""
    count = 0
    for i in range(grad.size):
        g, _ = decayed(grad[i], param[i], sign, l2, weight_decay, decay)
        m, _, second = moments(g, exp_avg[i], exp_avg_sq[i], max_exp_avg_sq, i, one_minus_beta1, beta2,
                               one_minus_beta2, amsgrad)
        u = m / (np.sqrt(second) / bias_correction2_sqrt + eps)
        count += 1 if u * g > 0 else 0
    return count


@element
def adam_row(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, s, amsgrad, cautious):
    """:func:`adam_block` with its scalars read from a table's row ``s`` (:func:`scalars`' layout)."""
    adam_block(
        param,
        grad,
        exp_avg,
        exp_avg_sq,
        max_exp_avg_sq,
        s[0],
        s[1] != 0,
        s[2],
        s[3],
        s[4],
        s[5],
        s[6],
        amsgrad,
        s[8],
        s[9],
        s[10],
        cautious,
        s[12],
    )


@block_kernel
def adam_work(b, addresses, sizes, starts, scalars, block):
    """Block ``b`` of the table (see :mod:`.jit`), with its tensor's scalars from :func:`scalars`."""
    t, lo, hi = locate(b, sizes, starts, block)
    a, s = addresses[t], scalars[t]
    amsgrad = s[7] != 0
    adam_row(
        memory_at(a[0], lo, hi, scalars),
        memory_at(a[1], lo, hi, scalars),
        memory_at(a[2], lo, hi, scalars),
        memory_at(a[3], lo, hi, scalars),
        memory_at(a[4], lo, hi if amsgrad else lo, scalars),
        s,
        amsgrad,
        s[11] != 0,
    )


@block_kernel
def adam_count_work(b, addresses, sizes, starts, scalars, block, sums):
    """Block ``b``'s count of agreeing coordinates, into its row of ``sums``."""
    t, lo, hi = locate(b, sizes, starts, block)
    a, s = addresses[t], scalars[t]
    amsgrad = s[7] != 0
    sums[b, 0] = adam_agreeing(
        memory_at(a[0], lo, hi, scalars),
        memory_at(a[1], lo, hi, scalars),
        memory_at(a[2], lo, hi, scalars),
        memory_at(a[3], lo, hi, scalars),
        memory_at(a[4], lo, hi if amsgrad else lo, scalars),
        s[0],
        s[1] != 0,
        s[2],
        s[3],
        s[4],
        s[5],
        s[6],
        amsgrad,
        s[9],
        s[10],
    )


def adam_count_entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """The C entry point of :func:`adam_count_work` (:func:`.jit.entry_signature`)."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    sums = block_sums(extra, s, tensors, extra_count)
    adam_count_work(b, a, z, s, c, block, sums)


def adam_entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """The C entry point of :func:`adam_work` (:func:`.jit.entry_signature`)."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    adam_work(b, a, z, s, c, block)


def arrays(state: State, param, hp: Hyper) -> tuple:
    second_max = state["max_exp_avg_sq"] if hp["amsgrad"] else None
    return state["exp_avg"], state["exp_avg_sq"], second_max


def scalars(hp: Hyper, state: State) -> tuple[tuple, State]:
    """The rule's per-step scalars (:func:`adamkit.rules.adam.update`), in Python float64."""
    (beta1, beta2), eps = hp["betas"], float(hp["eps"])
    step = state["step"] + 1
    step_size, root_scale = step_scalars(hp, step)
    args = (
        *decay_scalars(hp),  # 0-3: sign, l2, weight_decay, decay
        1 - float(beta1),  # 4
        float(beta2),  # 5
        1 - float(beta2),  # 6
        bool(hp["amsgrad"]),  # 7
        step_size,  # 8
        root_scale,  # 9: bias_correction2_sqrt
        eps,  # 10
        bool(hp.get("cautious", False)),  # 11: cautious (SWATS's Adam phase has no such option)
        1.0,  # 12: scale (the second pass writes each tensor's: .cautious)
    )
    return args, {"step": step}


_PLAIN = FusedKernel("adam", adam_entry, arrays, scalars)
ADAM_KERNEL = replace(
    _PLAIN,
    supports=no_options("cautious"),
    variants=(("cautious", cautious_kernel(_PLAIN, adam_count_entry, 12)),),
)
