"""Triton kernels for CUDA devices: the fused engine's GPU backend.

They read the same tables as the numba kernels (:mod:`adamkit.torch.kernels.jit`): row ``t``
of ``addresses`` holds the device addresses of tensor ``t``'s param, grad and state, row
``t`` of ``scalars`` the family's per-tensor scalars computed on the host by the family's
:class:`~adamkit.torch.kernels.contract.FusedKernel` (the rule's arithmetic, in float64,
then cast to the parameter's dtype). One launch updates every tensor of a param group on
one device: each Triton program takes ``BLOCK`` elements of one tensor (:mod:`.launch`).

* :mod:`.adam`: Adam and AdamW (AMSGrad, maximize, L2 or decoupled weight decay);
* :mod:`.adam_variants`: Adamax, NAdam, RAdam;
* :mod:`.sgd`: SGD (momentum, dampening, Nesterov, maximize, weight decay), and SWATS's
  SGD phase (the same table);
* :mod:`.baselines`: RMSprop (centered, momentum), Adagrad;
* :mod:`.modern`: Lion, AdaBelief (AMSGrad), AdEMAMix;
* :mod:`.lamb` and :mod:`.cautious`: the first passes of LAMB and of ``cautious=True`` (Adam,
  AdamW, Lion, AdEMAMix), which sum over each tensor into per-program float64 rows; the
  launcher adds each tensor's rows on the device, the factor (trust ratio, rescale) is computed
  there, and the second pass reads it (:func:`.launch.launch_second`): no wait for the device;
* :mod:`.adafactor`: Adafactor's four passes, run by its own engine
  (:mod:`adamkit.torch.fused_adafactor`'s ``RUNNERS``, not ``FAMILIES``: its factors are sums over
  rows and columns, not a table of elementwise state);
* :mod:`.schedulefree`: Schedule-Free AdamW (its step; ``train()``/``eval()`` are torch ops);
* :mod:`.lowbit`: Adam and AdamW with 8-bit or bfloat16 moments (``state_bits``), launched
  by the low-bit engine (:data:`adamkit.torch.lowbit.fused.LAUNCHERS`).

Adadelta, SWATS's Adam phase (whose sums decide on the host), options only the Keras front
end uses, and low-bit state of the other rules run on the reference engine on a GPU.

Arithmetic: the rule's operations in its order, with IEEE-rounded square root and
division (``sqrt_rn``, ``div_rn``), compiled without FMAs (:data:`.launch.NO_FMA`), so
each operation rounds as it does on the CPU (the per-step scalars come from the host).

Tests: the kernels run in Triton's interpreter (``TRITON_INTERPRET=1``, NumPy on the CPU)
against the numba kernels on the same tables, so CI without a GPU checks their logic; on
a machine with CUDA the same tests also run them on the device.
"""

from __future__ import annotations

import importlib.util

#: family name (:attr:`FusedKernel.name`) -> "module:kernel:flags": its Triton kernel, and the function
#: giving the switches compiled into it from the table's scalars.
FAMILIES: dict[str, str] = {
    "adam": "adamkit.torch.gpu.adam:adam_kernel:flags",
    "adamax": "adamkit.torch.gpu.adam_variants:adamax_kernel:flags",
    "nadam": "adamkit.torch.gpu.adam_variants:nadam_kernel:flags",
    "radam": "adamkit.torch.gpu.adam_variants:radam_kernel:flags",
    "sgd": "adamkit.torch.gpu.sgd:sgd_kernel:flags",
    "swats-sgd": "adamkit.torch.gpu.sgd:sgd_kernel:flags",  # SWATS after its switch: SGD's table
    "rmsprop": "adamkit.torch.gpu.baselines:rmsprop_kernel:rmsprop_flags",
    "adagrad": "adamkit.torch.gpu.baselines:adagrad_kernel:adagrad_flags",
    "lion": "adamkit.torch.gpu.modern:lion_kernel:lion_flags",
    "adabelief": "adamkit.torch.gpu.modern:adabelief_kernel:adabelief_flags",
    "ademamix": "adamkit.torch.gpu.modern:ademamix_kernel:ademamix_flags",
    "schedulefree": "adamkit.torch.gpu.schedulefree:schedulefree_kernel:schedulefree_flags",
    # two passes: the first sums per program (its kernel takes ``partials``), the second applies
    "lamb": "adamkit.torch.gpu.lamb:lamb_sums_kernel:lamb_flags",
    "lamb-apply": "adamkit.torch.gpu.lamb:lamb_apply_kernel:apply_flags",
    "adam-cautious": "adamkit.torch.gpu.cautious:adam_count_kernel:adam_count_flags",
    "lion-cautious": "adamkit.torch.gpu.cautious:lion_count_kernel:no_flags",
    "ademamix-cautious": "adamkit.torch.gpu.cautious:ademamix_count_kernel:no_flags",
}


def available() -> bool:
    """Whether Triton is installed (the kernels compile on first use; a CUDA device runs them)."""
    return importlib.util.find_spec("triton") is not None
