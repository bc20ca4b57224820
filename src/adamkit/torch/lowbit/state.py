"""Which state is compressed, at which precision, and reading and writing it in any of the three.

*Moments* are the per-parameter state tensors a rule keeps (torch's names); scalar state
(``step``, NAdam's ``mu_product``, SWATS's switch) is never compressed. First moments
(signed) use the signed 8-bit map, second moments (never negative) the unsigned one.

Which precision a parameter's moments get (:func:`precision_for`):

* ``state_bits=32``: the parameter's dtype, as torch.optim (today's behaviour);
* ``16``: bfloat16 for every real floating parameter, rounded stochastically
  (:func:`.codecs.to_bfloat16`: Adam's ``v`` would otherwise never decay);
* ``8``: 8-bit blockwise for real floating parameters of at least :data:`MIN_8BIT_NUMEL`
  values; smaller tensors (biases, norms: few values, and a block's absmax would cost
  more than it saves) keep float32 moments;
* complex parameters keep full precision at any ``state_bits``.

Low-precision parameters (float16, bfloat16) are updated in float32 from float32 copies
of the parameter, the gradient and the decoded moments, then rounded back: an ``eps``
of 1e-8 underflows in float16, and bfloat16 moments would round twice.
"""

from __future__ import annotations

from typing import Any

import torch

from ...distributed import is_dtensor
from ...rules.spec import Rule, State
from .codecs import (
    ABSMAX,
    BLOCK,
    CHUNK,
    CODES,
    absmax_key,
    codes_key,
    dequantize,
    quantize,
    quantize_into,
    rounding_seed,
    to_bfloat16,
)

STATE_BITS = (32, 16, 8)
MIN_8BIT_NUMEL = 4096

#: Each rule's moments (torch's state keys). Rules not listed keep ``state_bits=32`` only.
MOMENTS: dict[str, tuple[str, ...]] = {
    "adam": ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    "adamw": ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    "adamax": ("exp_avg", "exp_inf"),
    "nadam": ("exp_avg", "exp_avg_sq"),
    "radam": ("exp_avg", "exp_avg_sq"),
    "swats": ("exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer"),
    "sgd": ("momentum_buffer",),
    "rmsprop": ("square_avg", "momentum_buffer", "grad_avg"),
    "adagrad": ("sum",),
    "adadelta": ("square_avg", "acc_delta"),
    "lion": ("exp_avg",),
    "ademamix": ("exp_avg", "exp_avg_sq", "exp_avg_slow"),
    "adabelief": ("exp_avg", "exp_avg_var", "max_exp_avg_var"),
}

#: Moments that can be negative: stored with the signed map. All others are >= 0.
SIGNED_MOMENTS = frozenset({"exp_avg", "momentum_buffer", "grad_avg", "exp_avg_slow"})

#: Rules whose update is not elementwise (SWATS sums over each tensor): the reference path runs
#: them on whole tensors; every other rule's runs in chunks (:func:`.engine.step_reference`).
REDUCING = frozenset({"swats"})

#: Every moment name any rule uses (a checkpoint's keys are read by name).
ALL_MOMENTS = frozenset(name for names in MOMENTS.values() for name in names)


def allowed_bits(rule: Rule) -> tuple[int, ...]:
    return STATE_BITS if rule.name in MOMENTS else (32,)


def check_state_bits(rule: Rule, hp: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming ``state_bits`` if the group's value is not allowed for ``rule``."""
    bits = hp.get("state_bits", 32)
    allowed = allowed_bits(rule)
    if type(bits) is not int or bits not in allowed:  # not 8.0, True or a string: a precision is a count
        raise ValueError(
            f"Invalid state_bits (state_bits): {bits!r} (must be one of {', '.join(map(str, allowed))} "
            f"for {rule.title})"
        )
    if bits != 32 and hp.get("centered", False):
        # square_avg - grad_avg**2, each rounded on its own, can fall below zero: sqrt gives NaN
        raise ValueError(
            f"Invalid state_bits (state_bits): {bits} with centered=True (centered RMSprop needs "
            "state_bits=32: its variance estimate is a difference of two rounded moments)"
        )


def precision_for(param: torch.Tensor, bits: int) -> int:
    """The precision (32, 16 or 8) of ``param``'s moments in a group with ``state_bits=bits``."""
    if bits == 32 or param.is_complex() or not param.is_floating_point():
        return 32
    if bits == 8 and param.numel() < MIN_8BIT_NUMEL:
        return 32
    if bits == 8 and is_dtensor(param):  # blocks must not straddle shards: adamkit.distributed.shards
        from ...distributed.shards import blocks_align

        return 8 if blocks_align(param) else 32
    return bits


def work_dtype(param: torch.Tensor) -> torch.dtype:
    """The dtype the update is computed in: float64 for float64 parameters, else float32."""
    return torch.float64 if param.dtype == torch.float64 else torch.float32


def is_moment_key(key: str) -> bool:
    base = key.removesuffix(CODES).removesuffix(ABSMAX)
    return base in ALL_MOMENTS


def read_moment(state: State, name: str, dtype: torch.dtype) -> torch.Tensor | None:
    """Moment ``name`` decoded to ``dtype`` from whichever precision it is stored in (None if absent)."""
    codes = state.get(codes_key(name))
    if codes is not None:
        return dequantize(codes, state[absmax_key(name)], name in SIGNED_MOMENTS).to(dtype)
    value = state.get(name)
    if isinstance(value, torch.Tensor):
        return value.to(dtype)
    return None


def write_moment(
    state: State,
    name: str,
    value: torch.Tensor,
    precision: int,
    dtype: torch.dtype,
    step: float | None = None,
    offset: int = 0,
) -> None:
    """Store ``value`` as moment ``name`` at ``precision`` (32: as ``dtype``), in place where possible.

    At 16 bits, ``step`` (the step that produced ``value``) seeds the stochastic rounding;
    without one (a rule that counts no steps, a conversion) bfloat16 rounds to nearest.
    ``offset``: the index of ``value``'s first element in its whole tensor (a DTensor's shard).
    """
    if precision == 8:
        codes, absmax = quantize(value, name in SIGNED_MOMENTS)
        _put(state, codes_key(name), codes)
        _put(state, absmax_key(name), absmax)
        state.pop(name, None)
        return
    if precision == 16:
        seed = None if step is None else (rounding_seed(step, name) + offset) & 0xFFFFFFFF
        stored = to_bfloat16(value, seed)
    else:
        stored = value.to(dtype)
    _put(state, name, stored)
    state.pop(codes_key(name), None)
    state.pop(absmax_key(name), None)


def _put(state: State, key: str, value: torch.Tensor) -> None:
    """Copy into the existing tensor when it matches (keeps its identity), else store a fresh one."""
    old = state.get(key)
    if isinstance(old, torch.Tensor) and old.dtype == value.dtype and old.shape == value.shape:
        old.copy_(value)
    else:
        state[key] = value.contiguous()


def stored_precision(state: State, name: str) -> int | None:
    """The precision moment ``name`` is stored in: 8, 16 (bfloat16), 32 (other floats) or None."""
    if codes_key(name) in state:
        return 8
    value = state.get(name)
    if not isinstance(value, torch.Tensor):
        return None
    return 16 if value.dtype == torch.bfloat16 else 32


# ---------------------------------------------------------------- a chunk of a moment at a time


def chunkable(state: State, names: tuple[str, ...], param: torch.Tensor) -> bool:
    """Whether the stored moments ``names`` (and ``param``) can be read and written a flat slice at a time."""
    tensors = [param] + [state.get(k) for n in names for k in (n, codes_key(n), absmax_key(n))]
    return all(t.is_contiguous() for t in tensors if isinstance(t, torch.Tensor))


def read_slice(state: State, name: str, start: int, stop: int, dtype: torch.dtype) -> torch.Tensor | None:
    """Elements ``start:stop`` of the flattened moment ``name``, decoded to ``dtype`` (``start`` a
    multiple of ``BLOCK``); None if absent."""
    codes = state.get(codes_key(name))
    if codes is not None:  # (a DTensor shard's scales are (rows, row_size / 256): sliced flat)
        scales = state[absmax_key(name)].view(-1)[start // BLOCK : -(-stop // BLOCK)]
        return dequantize(codes.view(-1)[start:stop], scales, name in SIGNED_MOMENTS).to(dtype)
    value = state.get(name)
    if isinstance(value, torch.Tensor):
        return value.view(-1)[start:stop].to(dtype)
    return None


def write_slice(
    state: State,
    name: str,
    value: torch.Tensor,
    start: int,
    like: torch.Tensor,
    precision: int,
    dtype: torch.dtype,
    step: float | None,
) -> None:
    """Store ``value`` as elements ``start:`` of the flattened moment ``name`` (shaped like ``like``),
    creating the moment empty at ``precision`` if it is not there yet (a moment the step creates)."""
    stop = start + value.numel()
    if precision == 8:
        if codes_key(name) not in state:
            state[codes_key(name)] = torch.empty(like.shape, dtype=torch.uint8, device=like.device)
            state[absmax_key(name)] = torch.empty(-(-like.numel() // BLOCK), device=like.device)
        scales = state[absmax_key(name)].view(-1)[start // BLOCK : -(-stop // BLOCK)]
        codes = state[codes_key(name)].view(-1)[start:stop]
        quantize_into(value.reshape(-1), name in SIGNED_MOMENTS, codes, scales)
        return
    if name not in state:
        stored_dtype = torch.bfloat16 if precision == 16 else dtype
        state[name] = torch.empty(like.shape, dtype=stored_dtype, device=like.device)
    target = state[name].view(-1)[start:stop]
    if precision == 16:
        target.copy_(to_bfloat16(value, None if step is None else rounding_seed(step, name), offset=start))
    else:
        target.copy_(value.reshape(-1))


def filled_moment(
    state: State,
    name: str,
    fill: float,
    like: torch.Tensor,
    precision: int,
    dtype: torch.dtype,
    step: float | None,
) -> None:
    """Store moment ``name`` with every element ``fill`` (a rule's initial value), shaped like ``like``,
    as :func:`write_moment` would store a full tensor of it, without making that tensor."""
    if precision == 8:  # one value: the code of one times |fill| (or zeros), in every block
        codes, absmax = quantize(torch.full((1,), fill, device=like.device), name in SIGNED_MOMENTS)
        code, blocks = int(codes.item()), -(-like.numel() // BLOCK)
        state[codes_key(name)] = torch.full(like.shape, code, dtype=torch.uint8, device=like.device)
        state[absmax_key(name)] = torch.full((blocks,), absmax.item(), device=like.device)
        return
    stored_dtype = torch.bfloat16 if precision == 16 else dtype
    state[name] = torch.full(like.shape, fill, dtype=stored_dtype, device=like.device)
    if precision == 16 and fill != 0 and step is not None:  # rounded stochastically, element by element
        flat = state[name].view(-1)
        for start in range(0, flat.numel(), CHUNK):
            chunk = torch.full((min(CHUNK, flat.numel() - start),), fill, device=like.device)
            flat[start : start + chunk.numel()] = to_bfloat16(chunk, rounding_seed(step, name), offset=start)
