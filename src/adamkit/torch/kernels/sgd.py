r"""SGD with heavy-ball or Nesterov momentum (:mod:`adamkit.rules.sgd`) in one pass.

Per element, in the rule's order and in the parameter's dtype:

.. math::

    g &\leftarrow \pm g + \lambda\theta \quad\text{(L2)}\\
    b &\leftarrow g \text{ (the buffer's first step)}, \text{ else } b\mu + (1-\tau) g\\
    d &= g + \mu b \text{ (Nesterov)}, \text{ else } b \quad (d = g \text{ without momentum})\\
    \theta &\leftarrow \theta - \eta d

Without momentum 12 bytes per float32 parameter move (read p, g; write p), with it 20.
"""

from __future__ import annotations

import torch

from ...rules.spec import Hyper, State
from .contract import FusedKernel, decay_scalars, no_options
from .jit import block_kernel, decayed, locate, memory_at, table


@block_kernel
def sgd_block(
    param,
    grad,
    momentum_buffer,
    sign,
    l2,
    weight_decay,
    decay,
    lr,
    has_momentum,
    first,
    momentum,
    one_minus_dampening,
    nesterov,
):
    for i in range(param.size):
        g, p = decayed(grad[i], param[i], sign, l2, weight_decay, decay)
        direction = g
        if has_momentum:
            if first:  # copy(grad): the buffer starts as the first gradient, undamped
                buffer = g
            else:
                buffer = momentum_buffer[i] * momentum + one_minus_dampening * g
            momentum_buffer[i] = buffer
            direction = g + momentum * buffer if nesterov else buffer
        param[i] = p - lr * direction


@block_kernel
def sgd_work(b, addresses, sizes, starts, scalars, block):
    """Block ``b`` of the table (see :mod:`.jit`), with its tensor's scalars from :func:`scalars`."""
    t, lo, hi = locate(b, sizes, starts, block)
    a, s = addresses[t], scalars[t]
    has_momentum = s[5] != 0
    sgd_block(
        memory_at(a[0], lo, hi, scalars),
        memory_at(a[1], lo, hi, scalars),
        memory_at(a[2], lo, hi if has_momentum else lo, scalars),
        s[0],
        s[1] != 0,
        s[2],
        s[3],
        s[4],
        has_momentum,
        s[6] != 0,
        s[7],
        s[8],
        s[9] != 0,
    )


def sgd_entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """The C entry point of :func:`sgd_work` (:func:`.jit.entry_signature`)."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    sgd_work(b, a, z, s, c, block)


def arrays(state: State, param, hp: Hyper) -> tuple:
    if hp["momentum"] == 0:
        return (None,)
    if state.get("momentum_buffer") is None:  # born on the first step (filled by the kernel)
        state["momentum_buffer"] = torch.empty_like(param, memory_format=torch.contiguous_format)
    return (state["momentum_buffer"],)


def scalars(hp: Hyper, state: State) -> tuple[tuple, State]:
    """The rule's scalars (:func:`adamkit.rules.sgd.update`), in Python float64."""
    momentum = float(hp["momentum"])
    args = (
        *decay_scalars(hp),  # 0-3: sign, l2, weight_decay, decay
        float(hp["lr"]),  # 4
        momentum != 0,  # 5: has_momentum
        state.get("momentum_buffer") is None,  # 6: first
        momentum,  # 7
        1 - float(hp["dampening"]),  # 8
        bool(hp["nesterov"]),  # 9
    )
    return args, {}


SGD_KERNEL = FusedKernel("sgd", sgd_entry, arrays, scalars, no_options("lr_in_momentum"))
