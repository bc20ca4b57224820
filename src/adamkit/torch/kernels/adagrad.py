r"""Adagrad (:mod:`adamkit.rules.adagrad`) in one pass: read p, g, s; write p, s.

Per element, in the rule's order and in the parameter's dtype:

.. math::

    g \leftarrow \pm g + \lambda\theta \ \text{(L2)},\quad
    s \leftarrow s + g^2,\quad
    \theta \leftarrow \theta - \tilde\eta_t\, \frac{g}{\sqrt{s} + \epsilon}

with the decayed rate :math:`\tilde\eta_t = \eta / (1 + (t-1)\,\text{lr\_decay})` computed
once per step on the host. 20 bytes per float32 parameter move.
"""

from __future__ import annotations

import numpy as np

from ...rules.spec import Hyper, State
from .contract import FusedKernel, decay_scalars, no_options
from .jit import block_kernel, decayed, locate, memory_at, table


@block_kernel
def adagrad_block(param, grad, sum_, sign, l2, weight_decay, decay, decayed_lr, eps):
    for i in range(param.size):
        g, p = decayed(grad[i], param[i], sign, l2, weight_decay, decay)
        total = sum_[i] + g * g
        sum_[i] = total
        std = np.sqrt(total) + eps
        param[i] = p - decayed_lr * (g / std)


@block_kernel
def adagrad_work(b, addresses, sizes, starts, scalars, block):
    """Block ``b`` of the table (see :mod:`.jit`), with its tensor's scalars from :func:`scalars`."""
    t, lo, hi = locate(b, sizes, starts, block)
    a, s = addresses[t], scalars[t]
    adagrad_block(
        memory_at(a[0], lo, hi, scalars),
        memory_at(a[1], lo, hi, scalars),
        memory_at(a[2], lo, hi, scalars),
        s[0],
        s[1] != 0,
        s[2],
        s[3],
        s[4],
        s[5],
    )


def adagrad_entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """The C entry point of :func:`adagrad_work` (:func:`.jit.entry_signature`)."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    adagrad_work(b, a, z, s, c, block)


def arrays(state: State, param, hp: Hyper) -> tuple:
    return (state["sum"],)


def scalars(hp: Hyper, state: State) -> tuple[tuple, State]:
    """The rule's scalars (:func:`adamkit.rules.adagrad.update`), in Python float64."""
    step = state["step"] + 1
    decayed_lr = hp["lr"] / (1 + (step - 1) * hp["lr_decay"])
    args = (
        *decay_scalars(hp),  # 0-3: sign, l2, weight_decay, decay
        float(decayed_lr),  # 4
        float(hp["eps"]),  # 5
    )
    return args, {"step": step}


ADAGRAD_KERNEL = FusedKernel("adagrad", adagrad_entry, arrays, scalars, no_options("eps_in_sqrt"))
