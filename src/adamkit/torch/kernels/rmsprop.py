r"""RMSprop, plain or centered, with or without momentum (:mod:`adamkit.rules.rmsprop`) in one pass.

Per element, in the rule's order and in the parameter's dtype:

.. math::

    g &\leftarrow \pm g + \lambda\theta \quad\text{(L2)}\\
    v &\leftarrow v\alpha + (1-\alpha) g^2,\quad
    \bar g \leftarrow \bar g + (1-\alpha)(g - \bar g) \text{ (centered)}\\
    a &= \sqrt{v - \bar g^2} + \epsilon \text{ (centered), else } \sqrt{v} + \epsilon\\
    b &\leftarrow b\mu + g/a,\ \theta \leftarrow \theta - \eta b
        \quad\text{(momentum; else } \theta \leftarrow \theta - \eta\, g/a)
"""

from __future__ import annotations

import numpy as np

from ...rules.spec import Hyper, State
from .contract import FusedKernel, decay_scalars, no_options
from .jit import block_kernel, decayed, element, locate, memory_at, table


@element
def rmsprop_loop(arrays, s, centered, has_momentum):
    """The update over a block; ``centered`` and ``has_momentum`` are constants where
    :func:`rmsprop_block` inlines it, so each copy is a loop without branches."""
    param, grad, square_avg, grad_avg, momentum_buffer = arrays
    sign, l2, weight_decay, decay = s[0], s[1] != 0, s[2], s[3]
    alpha, one_minus_alpha, eps, momentum, lr = s[4], s[5], s[7], s[9], s[10]
    for i in range(param.size):
        g, p = decayed(grad[i], param[i], sign, l2, weight_decay, decay)
        v = square_avg[i] * alpha + one_minus_alpha * (g * g)
        square_avg[i] = v
        mean_square = v
        if centered:
            mean = grad_avg[i] + one_minus_alpha * (g - grad_avg[i])  # lerp(grad_avg, grad, 1 - alpha)
            grad_avg[i] = mean
            mean_square = v - mean * mean
        avg = np.sqrt(mean_square) + eps
        if has_momentum:
            buffer = momentum_buffer[i] * momentum + g / avg
            momentum_buffer[i] = buffer
            param[i] = p - lr * buffer
        else:
            param[i] = p - lr * (g / avg)


@block_kernel
def rmsprop_block(param, grad, square_avg, grad_avg, momentum_buffer, s):
    """The update of one block, ``s`` its tensor's scalars (:func:`scalars`). One loop per
    combination of ``centered`` and momentum: with the tests inside one loop, LLVM vectorised
    it for some combinations only (plain RMSprop ran 9x slower than with momentum, at 16M
    values), and with two loops, for others. Four loops double the first step's compile time
    (about 3 s more, once per machine: :mod:`.machine_code` caches it)."""
    arrays = param, grad, square_avg, grad_avg, momentum_buffer
    centered, has_momentum = s[6] != 0, s[8] != 0
    if centered and has_momentum:
        rmsprop_loop(arrays, s, True, True)
    elif centered:
        rmsprop_loop(arrays, s, True, False)
    elif has_momentum:
        rmsprop_loop(arrays, s, False, True)
    else:
        rmsprop_loop(arrays, s, False, False)


@block_kernel
def rmsprop_work(b, addresses, sizes, starts, scalars, block):
    """Block ``b`` of the table (see :mod:`.jit`), with its tensor's scalars from :func:`scalars`."""
    t, lo, hi = locate(b, sizes, starts, block)
    a, s = addresses[t], scalars[t]
    centered, has_momentum = s[6] != 0, s[8] != 0
    rmsprop_block(
        memory_at(a[0], lo, hi, scalars),
        memory_at(a[1], lo, hi, scalars),
        memory_at(a[2], lo, hi, scalars),
        memory_at(a[3], lo, hi if centered else lo, scalars),
        memory_at(a[4], lo, hi if has_momentum else lo, scalars),
        s,
    )


def rmsprop_entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """The C entry point of :func:`rmsprop_work` (:func:`.jit.entry_signature`)."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    rmsprop_work(b, a, z, s, c, block)


def arrays(state: State, param, hp: Hyper) -> tuple:
    grad_avg = state["grad_avg"] if hp["centered"] else None
    buffer = state["momentum_buffer"] if hp["momentum"] > 0 else None
    return state["square_avg"], grad_avg, buffer


def scalars(hp: Hyper, state: State) -> tuple[tuple, State]:
    """The rule's scalars (:func:`adamkit.rules.rmsprop.update`), in Python float64."""
    alpha, momentum = float(hp["alpha"]), float(hp["momentum"])
    args = (
        *decay_scalars(hp),  # 0-3: sign, l2, weight_decay, decay
        alpha,  # 4
        1 - alpha,  # 5
        bool(hp["centered"]),  # 6
        float(hp["eps"]),  # 7
        momentum > 0,  # 8: has_momentum
        momentum,  # 9
        float(hp["lr"]),  # 10
    )
    return args, {"step": state["step"] + 1}


RMSPROP_KERNEL = FusedKernel(
    "rmsprop",
    rmsprop_entry,
    arrays,
    scalars,
    no_options("eps_in_sqrt", "lr_in_momentum"),
)
