r"""Low-bit optimizer state: bfloat16 or 8-bit blockwise moments, for every adamkit torch optimizer.

Adam keeps two moments per parameter: 8 bytes in float32, twice the model. With
``state_bits=16`` they are bfloat16 (4 bytes); with ``state_bits=8`` each block of 256
values is stored as 256 one-byte codes of a non-linear dynamic map plus one float32
absmax (2.03 bytes for two moments), as in Dettmers, Lewis, Shleifer and Zettlemoyer,
"8-bit Optimizers via Block-wise Quantization" (ICLR 2022).

The update is the rule's, in float32: each step decodes the moments, runs the rule's
``update`` (the fused kernels: the same arithmetic), and encodes the new moments; the
parameter update uses the new moments before they are rounded. Only storage differs.

* :mod:`.dynamic_map`: the signed and unsigned 8-bit maps and the rounding formula;
* :mod:`.codecs`: the three codecs in torch, and the state keys (``exp_avg_codes``,
  ``exp_avg_absmax``, ...);
* :mod:`.state`: which moments, which precision per parameter, ``state_bits`` checks;
* :mod:`.engine`: the low-bit engine (reference path and dispatch), :mod:`.fused` (host
  code) and :mod:`.adam_kernels`: the fused numba kernels for Adam and AdamW, whose 8-bit
  codec is :mod:`.jit` (portable), :mod:`.avx2` or :mod:`.simd` (AVX-512 encoder), by the
  CPU; on CUDA devices their Triton versions (:mod:`adamkit.torch.gpu.lowbit`);
  :mod:`.families`: the other fused families' fp32 kernels on decoded chunks;
* :mod:`.convert`: loading checkpoints across precisions.

Example:
    >>> import torch, adamkit.torch as ak
    >>> model = torch.nn.Linear(256, 256)
    >>> opt = ak.AdamW(model.parameters(), lr=1e-3, state_bits=8)
    >>> model(torch.randn(4, 256)).sum().backward(); opt.step()
    >>> sorted(opt.state[model.weight])
    ['exp_avg_absmax', 'exp_avg_codes', 'exp_avg_sq_absmax', 'exp_avg_sq_codes', 'step']
    >>> opt.state[model.bias]["exp_avg"].dtype   # 256 values: under 4096, kept in float32
    torch.float32
"""

from __future__ import annotations

from typing import Any

from .convert import convert_loaded, full_precision_state_dict, moment_tensors
from .engine import LowBitEngine
from .state import MIN_8BIT_NUMEL, STATE_BITS, check_state_bits, precision_for

DESCRIPTIONS = {
    16: "bfloat16 moments",
    8: "8-bit blockwise moments (dynamic map, an absmax per 256 values; "
    f"tensors under {MIN_8BIT_NUMEL} values in float32)",
}


def with_state_bits(engine: Any, rule: Any, group: dict[str, Any], fused: bool | None) -> Any:
    """``engine``, wrapped in a :class:`LowBitEngine` once a group asks for ``state_bits`` 16 or 8."""
    if group.get("state_bits", 32) == 32 or isinstance(engine, LowBitEngine):
        return engine
    return LowBitEngine(rule, engine, fused)


def bits_per_param(groups: list[dict[str, Any]]) -> list[int]:
    """Each parameter's group ``state_bits``, in the order of the groups' parameters."""
    return [group.get("state_bits", 32) for group in groups for _ in group["params"]]


def describe(groups: list[dict[str, Any]]) -> str | None:
    """What the groups' ``state_bits`` mean, for people (None when every group keeps 32 bits)."""
    bits = sorted({g.get("state_bits", 32) for g in groups}, reverse=True)
    if bits == [32]:
        return None
    return "; ".join(DESCRIPTIONS.get(b, "as the parameters (32-bit)") for b in bits)


__all__ = [
    "MIN_8BIT_NUMEL",
    "STATE_BITS",
    "LowBitEngine",
    "bits_per_param",
    "check_state_bits",
    "convert_loaded",
    "describe",
    "full_precision_state_dict",
    "moment_tensors",
    "precision_for",
    "with_state_bits",
]
