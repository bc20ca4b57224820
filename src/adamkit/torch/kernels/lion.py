r"""Lion (:mod:`adamkit.rules.lion`) in one pass: read p, g, m; write p, m.

Per element, in the rule's order and in the parameter's dtype:

.. math::

    g \leftarrow \pm g,\quad \theta \leftarrow \theta\,(1 - \eta\lambda),\quad
    \theta \leftarrow \theta - \eta\,\mathrm{sign}(m\beta_1 + g(1-\beta_1)),\quad
    m \leftarrow m\beta_2 + g(1-\beta_2)

``sign`` is torch's: 0 for 0 and for NaN. 20 bytes per float32 parameter move (the least a
one-moment optimizer can). ``cautious=True`` (:mod:`.cautious`): a first pass counts the
coordinates where the sign agrees with the gradient (reads g, m: 8 bytes), then this kernel
steps by :math:`\eta s` on those and leaves the others (28 bytes in all).
"""

from __future__ import annotations

from dataclasses import replace

from ...rules.spec import Hyper, State
from .cautious import cautious_kernel
from .contract import FusedKernel, no_options
from .jit import block_kernel, block_sums, decayed, element, locate, memory_at, table


@element
def sign_of(c):
    """torch.sign of one element: 0 for 0 and for NaN."""
    return 1.0 if c > 0 else (-1.0 if c < 0 else 0.0)


@block_kernel
def lion_block(
    param,
    grad,
    exp_avg,
    sign,
    l2,
    weight_decay,
    decay,
    beta1,
    one_minus_beta1,
    beta2,
    one_minus_beta2,
    lr,
    cautious,
    scale,
):
    lr_scale = lr * scale  # the cautious step, rounded in the parameter's dtype as the rule's lr * (sign * s)
    for i in range(param.size):
        g, p = decayed(grad[i], param[i], sign, l2, weight_decay, decay)
        m = exp_avg[i]
        direction = sign_of(m * beta1 + g * one_minus_beta1)
        if cautious:  # where the sign disagrees with the gradient the parameter stays
            param[i] = p - lr_scale * (direction if direction * g > 0 else 0.0)
        else:
            param[i] = p - lr * direction
        exp_avg[i] = m * beta2 + g * one_minus_beta2


@block_kernel
def lion_agreeing(grad, exp_avg, sign, beta1, one_minus_beta1):
    """How many elements of a block the cautious mask keeps (the sign agrees with the gradient)."""
    count = 0
    for i in range(grad.size):
        g = grad[i] * sign
        direction = sign_of(exp_avg[i] * beta1 + g * one_minus_beta1)
        count += 1 if direction * g > 0 else 0
    return count


@block_kernel
def lion_work(b, addresses, sizes, starts, scalars, block):
    """Block ``b`` of the table (see :mod:`.jit`), with its tensor's scalars from :func:`scalars`."""
    t, lo, hi = locate(b, sizes, starts, block)
    a, s = addresses[t], scalars[t]
    lion_block(
        memory_at(a[0], lo, hi, scalars),
        memory_at(a[1], lo, hi, scalars),
        memory_at(a[2], lo, hi, scalars),
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
    )


@block_kernel
def lion_count_work(b, addresses, sizes, starts, scalars, block, sums):
    """Block ``b``'s count of agreeing coordinates, into its row of ``sums``."""
    t, lo, hi = locate(b, sizes, starts, block)
    a, s = addresses[t], scalars[t]
    sums[b, 0] = lion_agreeing(
        memory_at(a[1], lo, hi, scalars), memory_at(a[2], lo, hi, scalars), s[0], s[4], s[5]
    )


def lion_count_entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """The C entry point of :func:`lion_count_work` (:func:`.jit.entry_signature`)."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    sums = block_sums(extra, s, tensors, extra_count)
    lion_count_work(b, a, z, s, c, block, sums)


def lion_entry(b, addresses, tensors, width, sizes, starts, scalars, count, block, extra, extra_count):
    """The C entry point of :func:`lion_work` (:func:`.jit.entry_signature`)."""
    a, z, s, c = table(addresses, tensors, width, sizes, starts, scalars, count)
    lion_work(b, a, z, s, c, block)


def arrays(state: State, param, hp: Hyper) -> tuple:
    return (state["exp_avg"],)


def scalars(hp: Hyper, state: State) -> tuple[tuple, State]:
    """The rule's scalars (:func:`adamkit.rules.lion.update`), in Python float64."""
    lr, (beta1, beta2), wd = float(hp["lr"]), hp["betas"], float(hp["weight_decay"])
    args = (
        -1.0 if hp["maximize"] else 1.0,  # 0: sign
        False,  # 1: l2 (Lion's decay is decoupled)
        wd,  # 2
        1 - lr * wd if wd != 0 else 1.0,  # 3: decay (exactly 1 without decay, as the rule)
        float(beta1),  # 4
        1 - float(beta1),  # 5
        float(beta2),  # 6
        1 - float(beta2),  # 7
        lr,  # 8
        bool(hp["cautious"]),  # 9: cautious
        1.0,  # 10: scale (the second pass writes each tensor's: .cautious)
    )
    return args, {"step": state["step"] + 1}


_PLAIN = FusedKernel("lion", lion_entry, arrays, scalars)
LION_KERNEL = replace(
    _PLAIN,
    supports=no_options("cautious"),
    variants=(("cautious", cautious_kernel(_PLAIN, lion_count_entry, 10)),),
)
