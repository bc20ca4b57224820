r"""AdaBelief (:mod:`adamkit.rules.adabelief`) in one pass: read p, g, m, s; write p, m, s.

Per element, in the rule's order and in the parameter's dtype:

.. math::

    g &\leftarrow \pm g + \lambda\theta \ \text{(L2, or decoupled decay of } \theta),\quad
    m \leftarrow m + (1-\beta_1)(g - m),\quad
    s \leftarrow s\beta_2 + (1-\beta_2)(g - m)^2 + \epsilon\\
    \hat s &= \max(\hat s, s) \text{ (AMSGrad)},\qquad
    \theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t}\,
        \frac{m}{\sqrt{\hat s}/\sqrt{1-\beta_2^t} + \epsilon}

28 bytes per float32 parameter move (36 with AMSGrad), as Adam.
"""

from __future__ import annotations

import math

import numpy as np

from ...rules.spec import Hyper, State
from .contract import FusedKernel, decay_scalars
from .jit import block_kernel, decayed, locate, memory_at, table


@block_kernel
def adabelief_block(
    param,
    grad,
    exp_avg,
    exp_avg_var,
    max_exp_avg_var,
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
):
    for i in range(param.size):
        g, p = decayed(grad[i], param[i], sign, l2, weight_decay, decay)
        m = exp_avg[i] + one_minus_beta1 * (g - exp_avg[i])  # lerp(exp_avg, grad, 1 - beta1)
        r = g - m
        s = exp_avg_var[i] * beta2 + one_minus_beta2 * (r * r) + eps
        exp_avg[i] = m
        exp_avg_var[i] = s
        if amsgrad:  # maximum(max_exp_avg_var, exp_avg_var), NaN propagating as torch.maximum
            old = max_exp_avg_var[i]
            s = old if (old > s or old != old) else s
            max_exp_avg_var[i] = s
        denom = np.sqrt(s) / bias_correction2_sqrt + eps
        param[i] = p - step_size * (m / denom)


@block_kernel
def adabelief_work(b, addresses, sizes, starts, scalars, block):
    """Block ``b`` of the table (see :mod:`.jit`), with its tensor's scalars from :func:`scalars`."""
    t, lo, hi = locate(b, sizes, starts, block)
    a, s = addresses[t], scalars[t]
    amsgrad = s[7] != 0
    adabelief_block(
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
        s[8],
        s[9],
        s[10],
    )


def adabelief_entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """The C entry point of :func:`adabelief_work` (:func:`.jit.entry_signature`)."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    adabelief_work(b, a, z, s, c, block)


def arrays(state: State, param, hp: Hyper) -> tuple:
    second_max = state["max_exp_avg_var"] if hp["amsgrad"] else None
    return state["exp_avg"], state["exp_avg_var"], second_max


def scalars(hp: Hyper, state: State) -> tuple[tuple, State]:
    """The rule's scalars (:func:`adamkit.rules.adabelief.update`), in Python float64."""
    (beta1, beta2), step = hp["betas"], state["step"] + 1
    args = (
        *decay_scalars(hp),  # 0-3: sign, l2, weight_decay, decay
        1 - float(beta1),  # 4
        float(beta2),  # 5
        1 - float(beta2),  # 6
        bool(hp["amsgrad"]),  # 7
        float(hp["lr"]) / (1 - beta1**step),  # 8: step_size
        math.sqrt(1 - beta2**step),  # 9: bias_correction2_sqrt
        float(hp["eps"]),  # 10
    )
    return args, {"step": step}


ADABELIEF_KERNEL = FusedKernel("adabelief", adabelief_entry, arrays, scalars)
