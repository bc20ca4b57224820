r"""NAdam (:mod:`adamkit.rules.nadam`) in one pass: read p, g, m, v; write p, m, v.

Per element, in the rule's order and in the parameter's dtype:

.. math::

    g &\leftarrow \pm g \;(+\lambda\theta \text{ for L2; decoupled shrinks } \theta),\quad
    m \leftarrow m + (1-\beta_1)(g - m),\quad
    v \leftarrow v\beta_2 + (1-\beta_2)g^2\\
    d &= \sqrt{v / (1-\beta_2^t)} + \epsilon,\quad
    \theta \leftarrow \theta - c_g\,\frac{g}{d},\quad
    \theta \leftarrow \theta - c_m\,\frac{m}{d}

with :math:`c_g = \eta(1-\mu_t)/(1-\prod_{i\le t}\mu_i)` and
:math:`c_m = \eta\mu_{t+1}/(1-\prod_{i\le t+1}\mu_i)` from the warming momentum
:math:`\mu_t`, computed once per step on the host (``mu_product`` is scalar state).
28 bytes per float32 parameter move.
"""

from __future__ import annotations

import numpy as np

from ...rules.nadam import momenta
from ...rules.spec import Hyper, State
from .contract import FusedKernel, decay_scalars
from .jit import block_kernel, decayed, locate, memory_at, table


@block_kernel
def nadam_block(
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
    bias_correction2,
    eps,
    grad_coefficient,
    avg_coefficient,
):
    for i in range(param.size):
        g, p = decayed(grad[i], param[i], sign, l2, weight_decay, decay)
        m = exp_avg[i] + one_minus_beta1 * (g - exp_avg[i])  # lerp(exp_avg, grad, 1 - beta1)
        v = exp_avg_sq[i] * beta2 + one_minus_beta2 * (g * g)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        denom = np.sqrt(v / bias_correction2) + eps
        p = p - grad_coefficient * (g / denom)  # this step's gradient ...
        param[i] = p - avg_coefficient * (m / denom)  # ... then the momentum looked one step ahead


@block_kernel
def nadam_work(b, addresses, sizes, starts, scalars, block):
    """Block ``b`` of the table (see :mod:`.jit`), with its tensor's scalars from :func:`scalars`."""
    t, lo, hi = locate(b, sizes, starts, block)
    a, s = addresses[t], scalars[t]
    nadam_block(
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
        s[9],
        s[10],
    )


def nadam_entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """The C entry point of :func:`nadam_work` (:func:`.jit.entry_signature`)."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    nadam_work(b, a, z, s, c, block)


def arrays(state: State, param, hp: Hyper) -> tuple:
    return state["exp_avg"], state["exp_avg_sq"]


def scalars(hp: Hyper, state: State) -> tuple[tuple, State]:
    """The rule's scalars (:func:`adamkit.rules.nadam.update`), in Python float64 from ``mu_product``
    at its stored precision (:func:`adamkit.rules.nadam.momenta`)."""
    lr, (beta1, beta2) = hp["lr"], hp["betas"]
    step = state["step"] + 1
    mu, mu_next, mu_product, mu_product_next = momenta(step, state["mu_product"], hp)
    args = (
        *decay_scalars(hp),  # 0-3: sign, l2, weight_decay, decay
        1 - float(beta1),  # 4
        float(beta2),  # 5
        1 - float(beta2),  # 6
        float(1 - beta2**step),  # 7: bias_correction2
        float(hp["eps"]),  # 8
        float(lr * (1 - mu) / (1 - mu_product)),  # 9: grad_coefficient
        float(lr * mu_next / (1 - mu_product_next)),  # 10: avg_coefficient
    )
    return args, {"step": step, "mu_product": mu_product}


NADAM_KERNEL = FusedKernel("nadam", nadam_entry, arrays, scalars)
