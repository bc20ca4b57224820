r"""RAdam (:mod:`adamkit.rules.radam`) in one pass: read p, g, m, v; write p, m, v.

Per element, in the rule's order and in the parameter's dtype:

.. math::

    g &\leftarrow \pm g \;(+\lambda\theta \text{ for L2; decoupled shrinks } \theta),\quad
    m \leftarrow m + (1-\beta_1)(g - m),\quad
    v \leftarrow v\beta_2 + (1-\beta_2)g^2\\
    u &= \frac{m}{1-\beta_1^t}\,\eta,\qquad
    \theta \leftarrow \theta - u \quad (\rho_t \le 5)\\
    \theta &\leftarrow \theta - \Big(u \cdot \frac{1}{\sqrt v + \epsilon}\sqrt{1-\beta_2^t}\Big) r_t
        \quad\text{otherwise}

The SMA length :math:`\rho_t` and the rectification :math:`r_t` are scalars of the step,
computed on the host; :math:`c/x` is the reciprocal times :math:`c`, as torch evaluates
a number divided by a tensor. 28 bytes per float32 parameter move.
"""

from __future__ import annotations

import math

import numpy as np

from ...rules.radam import RHO_THRESHOLD, rectification, sma_lengths
from ...rules.spec import Hyper, State
from .contract import FusedKernel, decay_scalars
from .jit import block_kernel, decayed, locate, memory_at, table


@block_kernel
def radam_block(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    sign,
    l2,
    weight_decay,
    decay,
    one_minus_beta1,
    beta2,
    one_minus_beta2,
    bias_correction1,
    lr,
    adaptive,
    bias_correction2_sqrt,
    eps,
    rect,
    one,
):
    for i in range(param.size):
        g, p = decayed(grad[i], param[i], sign, l2, weight_decay, decay)
        m = exp_avg[i] + one_minus_beta1 * (g - exp_avg[i])  # lerp(exp_avg, grad, 1 - beta1)
        v = exp_avg_sq[i] * beta2 + one_minus_beta2 * (g * g)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        momentum_step = m / bias_correction1 * lr
        if adaptive:
            adaptive_lr = one / (np.sqrt(v) + eps) * bias_correction2_sqrt  # c / x: reciprocal, times c
            param[i] = p - momentum_step * adaptive_lr * rect
        else:  # variance of the adaptive rate unbounded: SGD with momentum
            param[i] = p - momentum_step


@block_kernel
def radam_work(b, addresses, sizes, starts, scalars, block):
    """Block ``b`` of the table (see :mod:`.jit`), with its tensor's scalars from :func:`scalars`."""
    t, lo, hi = locate(b, sizes, starts, block)
    a, s = addresses[t], scalars[t]
    radam_block(
        memory_at(a[0], lo, hi, scalars),
        memory_at(a[1], lo, hi, scalars),
        memory_at(a[2], lo, hi, scalars),
        memory_at(a[3], lo, hi, scalars),
        s[0],
        s[1] != 0,
        s[2],
        s[3],
        s[4],
        s[5],
        s[6],
        s[7],
        s[8],
        s[9] != 0,
        s[10],
        s[11],
        s[12],
        s[13],
    )


def radam_entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """The C entry point of :func:`radam_work` (:func:`.jit.entry_signature`)."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    radam_work(b, a, z, s, c, block)


def arrays(state: State, param, hp: Hyper) -> tuple:
    return state["exp_avg"], state["exp_avg_sq"]


def scalars(hp: Hyper, state: State) -> tuple[tuple, State]:
    """The rule's scalars (:func:`adamkit.rules.radam.update`), in Python float64."""
    beta1, beta2 = hp["betas"]
    step = state["step"] + 1
    rho_inf, rho_t = sma_lengths(step, beta2)
    adaptive = rho_t > RHO_THRESHOLD
    args = (
        *decay_scalars(hp),  # 0-3: sign, l2, weight_decay, decay
        1 - float(beta1),  # 4
        float(beta2),  # 5
        1 - float(beta2),  # 6
        float(1 - beta1**step),  # 7: bias_correction1
        float(hp["lr"]),  # 8
        adaptive,  # 9
        math.sqrt(1 - beta2**step),  # 10
        float(hp["eps"]),  # 11
        rectification(rho_inf, rho_t) if adaptive else 0.0,  # 12
        1.0,  # 13: one, in the parameter's dtype (a literal 1.0 would compute in float64)
    )
    return args, {"step": step}


RADAM_KERNEL = FusedKernel("radam", radam_entry, arrays, scalars)
