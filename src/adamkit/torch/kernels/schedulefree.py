r"""Schedule-Free AdamW (:mod:`adamkit.rules.schedulefree`) in one pass: read y, g, z, v; write y, z, v.

The step's numbers (the warmed-up rate :math:`\eta_k`, the average's weight :math:`c_{k+1}` from
``lr_max`` and ``weight_sum``, the bias correction) are the same for every element: the host
computes them once per group and step with the rule's own :func:`~adamkit.rules.schedulefree.schedule`.
Per element, in the rule's order and in the parameter's dtype:

.. math::

    v &\leftarrow v\beta_2 + (1-\beta_2) g^2,\qquad
    \hat g = g / \left(\sqrt{v / (1-\beta_2^{k+1})} + \epsilon\right) + \lambda y \\
    y &\leftarrow \left(y + c_{k+1}(z - y)\right) + \eta_k(\beta_1(1-c_{k+1}) - 1)\,\hat g,\qquad
    z \leftarrow z - \eta_k \hat g

28 bytes per float32 parameter move, as Adam: :math:`x` is never stored.
"""

from __future__ import annotations

import numpy as np

from ...rules.schedulefree import schedule
from ...rules.spec import Hyper, State
from .contract import FusedKernel
from .jit import block_kernel, locate, memory_at, table


@block_kernel
def schedulefree_block(
    param,
    grad,
    z,
    exp_avg_sq,
    beta2,
    one_minus_beta2,
    bias_correction2,
    eps,
    decays,
    weight_decay,
    average,
    y_step,
    lr,
):
    for i in range(param.size):
        g, y, zi = grad[i], param[i], z[i]
        v = exp_avg_sq[i] * beta2 + one_minus_beta2 * (g * g)
        normalised = g / (np.sqrt(v / bias_correction2) + eps)
        if decays:  # at y, before y moves
            normalised = normalised + weight_decay * y
        exp_avg_sq[i] = v
        param[i] = (y + average * (zi - y)) + y_step * normalised
        z[i] = zi - lr * normalised


@block_kernel
def schedulefree_work(b, addresses, sizes, starts, scalars, block):
    """Block ``b`` of the table (see :mod:`.jit`), with its tensor's scalars from :func:`scalars`."""
    t, lo, hi = locate(b, sizes, starts, block)
    a, s = addresses[t], scalars[t]
    schedulefree_block(
        memory_at(a[0], lo, hi, scalars),
        memory_at(a[1], lo, hi, scalars),
        memory_at(a[2], lo, hi, scalars),
        memory_at(a[3], lo, hi, scalars),
        s[4],
        s[5],
        s[6],
        s[7],
        s[8] != 0,
        s[9],
        s[10],
        s[11],
        s[12],
    )


def schedulefree_entry(
    b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count
):
    """The C entry point of :func:`schedulefree_work` (:func:`.jit.entry_signature`)."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    schedulefree_work(b, a, z, s, c, block)


def arrays(state: State, param, hp: Hyper) -> tuple:
    return state["z"], state["exp_avg_sq"]


def scalars(hp: Hyper, state: State) -> tuple[tuple, State]:
    """The rule's scalars (:func:`adamkit.rules.schedulefree.update`), in Python float64."""
    (beta1, beta2), wd, k = hp["betas"], float(hp["weight_decay"]), state["step"]
    lr, lr_max, weight_sum, average = schedule(state, hp)
    args = (
        1.0,  # 0: sign (the shared prologue's: no maximize)
        False,  # 1: l2 (none: the decay is added to the normalised gradient)
        0.0,  # 2: weight_decay (for the shared prologue)
        1.0,  # 3: decay (idem)
        float(beta2),  # 4
        1 - float(beta2),  # 5
        1 - beta2 ** (k + 1),  # 6: bias_correction2
        float(hp["eps"]),  # 7
        wd != 0,  # 8: decays
        wd,  # 9
        average,  # 10: c_{k+1}
        lr * (beta1 * (1 - average) - 1),  # 11: y_step
        lr,  # 12
    )
    return args, {"step": k + 1, "weight_sum": weight_sum, "lr_max": lr_max}


SCHEDULEFREE_KERNEL = FusedKernel("schedulefree", schedulefree_entry, arrays, scalars)
