r"""Adamax (:mod:`adamkit.rules.adamax`) in one pass: read p, g, m, u; write p, m, u.

Per element, in the rule's order and in the parameter's dtype:

.. math::

    g &\leftarrow \pm g + \lambda\theta \ \text{(L2)},\quad
    m \leftarrow m + (1-\beta_1)(g - m),\quad
    u \leftarrow \max(u\beta_2,\ |g| + \epsilon)\\
    \theta &\leftarrow \theta - s\,\frac{m}{u},\qquad s = \eta / (1-\beta_1^t) \text{ (host)}

The maximum propagates NaN as ``torch.maximum``. 28 bytes per float32 parameter move.
"""

from __future__ import annotations

from ...rules.spec import Hyper, State
from .contract import FusedKernel, decay_scalars, no_options
from .jit import block_kernel, decayed, locate, memory_at, table


@block_kernel
def adamax_block(
    param, grad, exp_avg, exp_inf, sign, l2, weight_decay, decay, one_minus_beta1, beta2, eps, step_size
):
    for i in range(param.size):
        g, p = decayed(grad[i], param[i], sign, l2, weight_decay, decay)
        m = exp_avg[i] + one_minus_beta1 * (g - exp_avg[i])  # lerp(exp_avg, grad, 1 - beta1)
        exp_avg[i] = m
        decayed_inf = exp_inf[i] * beta2
        bound = abs(g) + eps  # eps inside the maximum, as torch
        u = decayed_inf if (decayed_inf > bound or decayed_inf != decayed_inf) else bound
        exp_inf[i] = u
        param[i] = p - step_size * (m / u)


@block_kernel
def adamax_work(b, addresses, sizes, starts, scalars, block):
    """Block ``b`` of the table (see :mod:`.jit`), with its tensor's scalars from :func:`scalars`."""
    t, lo, hi = locate(b, sizes, starts, block)
    a, s = addresses[t], scalars[t]
    adamax_block(
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
    )


def adamax_entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """The C entry point of :func:`adamax_work` (:func:`.jit.entry_signature`)."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    adamax_work(b, a, z, s, c, block)


def arrays(state: State, param, hp: Hyper) -> tuple:
    return state["exp_avg"], state["exp_inf"]


def scalars(hp: Hyper, state: State) -> tuple[tuple, State]:
    """The rule's scalars (:func:`adamkit.rules.adamax.update`), in Python float64."""
    beta1, beta2 = hp["betas"]
    step = state["step"] + 1
    args = (
        *decay_scalars(hp),  # 0-3: sign, l2, weight_decay, decay
        1 - float(beta1),  # 4
        float(beta2),  # 5
        float(hp["eps"]),  # 6
        float(hp["lr"] / (1 - beta1**step)),  # 7: step_size
    )
    return args, {"step": step}


ADAMAX_KERNEL = FusedKernel("adamax", adamax_entry, arrays, scalars, no_options("eps_after_max"))
