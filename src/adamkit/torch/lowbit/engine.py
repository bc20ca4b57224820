"""The engine for groups with ``state_bits`` 16 or 8: decode, run the rule in float32, encode.

Per parameter of a group (:func:`.state.precision_for` decides its precision):

* moments kept at 32 bits in the parameter's own dtype (float32/float64 tensors under
  4096 values at 8 bits, complex parameters): the optimizer's usual engine (fused or
  reference), exactly as with ``state_bits=32``;
* bfloat16 or 8-bit moments of a float32 parameter, where the rule has a fused family
  (:func:`kernel_for`): one fused call for all of them (:mod:`.fused`);
* everything else: the **reference path**, the readable oracle of the fused kernels:
  the moments decoded to float32 (float64 for a float64 parameter), the rule's own
  ``update`` on float32 copies of the parameter and gradient, the new moments encoded
  and the parameter rounded back to its dtype. The math is the rule's; only the codec
  differs from ``state_bits=32``.

Devices: a family runs its kernels on the devices of its launchers (:data:`.fused.LAUNCHERS`:
numba on the CPU, Triton on CUDA devices, over the same codecs: same keys, same maps, same
rounding formula); parameters on a device without kernels take the reference path, which
is plain torch and runs anywhere.
"""

from __future__ import annotations

from typing import Any

import torch

from ...distributed import is_dtensor
from ...rules.spec import Rule, State
from ..engine import Engine, fresh_state, plain_hyper, scalar_number
from ..replay import Replays, replay_key
from .state import (
    MOMENTS,
    REDUCING,
    chunkable,
    filled_moment,
    precision_for,
    read_moment,
    read_slice,
    stored_precision,
    work_dtype,
    write_moment,
    write_slice,
)


def local_states(shards: list) -> dict:
    """The local states of DTensor parameters' shards, by their local parameters."""
    return {shard.param: shard.state for shard in shards}


def kernel_for(rule: Rule) -> Any | None:
    """A new instance of the low-bit kernels of ``rule``'s fused family (:class:`.fused.LowBitKernels`;
    imports numba), or None where it has none (no fp32 kernel, or one with reductions or phases:
    SWATS). Each optimizer has its own: it keeps records of the parameters it checked."""
    from ..fused import kernel_for as fp32_kernel_for

    kernel = fp32_kernel_for(rule)
    if not has_low_bit_kernels(kernel) or rule.name not in MOMENTS:
        return None
    from .fused import LowBitKernels

    return LowBitKernels(kernel, rule)


def has_low_bit_kernels(kernel: Any) -> bool:
    """Whether a fused fp32 family (or None) has low-bit kernels: one kernel without reductions
    (not SWATS: its phases, and its Adam phase's sums over each tensor)."""
    from ..kernels.contract import FusedKernel

    return isinstance(kernel, FusedKernel) and not kernel.reductions


class LowBitEngine:
    """Runs groups with ``state_bits`` 16 or 8; groups with 32 go to ``full``, the usual engine."""

    def __init__(self, rule: Rule, full: Engine, fused: bool | None) -> None:
        self.full = full
        self.kernel = None if fused is False else kernel_for(rule)
        if fused and self.kernel is None:
            raise ValueError(
                f"Invalid state_bits (state_bits) with fused=True: no fused low-bit engine for {rule.name} "
                "(use fused=None for the reference path)"
            )
        self.name = "fused" if self.kernel is not None else "reference"
        self.shards = None  # the local views of DTensor parameters (adamkit.distributed.shards), once seen
        self.ran: dict[int, str] = {}  # by id(param): the engine of its last low-bit step
        self.replays = Replays()  # the groups' last low-bit steps, to replay (.replay)

    def engine_of(self, param: torch.Tensor) -> str:
        """The engine that ran ``param``'s last step (its group's usual engine for 32-bit moments)."""
        if id(param) in self.ran:
            return self.ran[id(param)]
        return self.full.engine_of(param) if hasattr(self.full, "engine_of") else self.full.name

    def step_group(self, rule: Rule, group: dict[str, Any], state: dict) -> None:
        bits = group.get("state_bits", 32)
        if bits == 32:
            self.full.step_group(rule, group, state)
            return
        hp = plain_hyper(group)
        key = replay_key(group)
        replay = self.replays.pop(key, None)
        if replay is not None and replay.run(self.kernel, self.full, rule, group, state, hp):
            self.replays.keep(key, replay)
            return
        full, fused, reference, shards = [], [], [], []
        float32 = set()  # ids of the fused ones whose moments stay 32-bit (under 8-bit blocks' minimum)
        for param in group["params"]:
            grad = param.grad
            if grad is None:
                if self.kernel is not None:  # frozen for now: no record keeps its state alive
                    known = param if self.shards is None else self.shards.known(param)
                    self.kernel.checked.pop(id(known), None)
                continue
            if grad.is_sparse:
                raise ValueError(
                    f"{rule.title} with state_bits={bits}: sparse gradients need state_bits=32 "
                    "(the rows of a sparse update do not fill whole quantisation blocks)"
                )
            precision = precision_for(param, bits)
            self.ran.pop(id(param), None)
            if self.takes_float32(param, state[param], hp, precision):  # in the 8-bit kernels' call
                fused.append(param)
                float32.add(id(param))
                self.ran[id(param)] = "fused"
            elif precision == 32 and param.dtype == work_dtype(param) or param.is_complex():
                full.append(param)
            elif self.kernel is not None and is_dtensor(param):  # its local shard, if the kernels take it
                shard = self.local_shard(param, state[param])
                if shard is not None and self.kernel.takes(shard.param, shard.state, hp, precision):
                    fused.append(shard.param)
                    shards.append(shard)
                    self.ran[id(param)] = "fused"
                else:
                    reference.append(param)
            elif self.kernel is not None and self.kernel.takes(param, state[param], hp, precision):
                fused.append(param)
                self.ran[id(param)] = "fused"
            else:
                reference.append(param)
        if full:
            self.full.step_group(rule, {**group, "params": full}, state)
        if fused:
            states = state if not shards else {  # the shards' states by their local parameters
                **{p: state[p] for p in fused if p in state},
                **local_states(shards),
            }
            kept = self.kernel.step(rule, fused, hp, states, bits, frozenset(float32))
            if not reference and not shards and len(full) + len(fused) == len(group["params"]):
                self.keep_replay(key, group, bits, full, fused, kept, hp)
        for param in reference:
            self.ran[id(param)] = "reference"
            if is_dtensor(param):  # the rule on DTensors, the codecs on the local shards
                from ...distributed.reference import step_reference as step_dtensor

                step_dtensor(rule, param, state[param], hp, precision_for(param, bits))
            else:
                step_reference(rule, param, state[param], hp, precision_for(param, bits))
        if shards:
            from ...distributed.shards import release

            release(shards)

    def takes_float32(self, param: torch.Tensor, p_state: State, hp: dict[str, Any], precision: int) -> bool:
        """Whether a tensor that keeps 32-bit moments in an 8-bit group steps in the low-bit kernels'
        call (:meth:`.fused.LowBitKernels.takes_float32`) rather than through the usual engine: only
        where that engine would have been the fused one (same kernel, same bits)."""
        return (
            self.kernel is not None
            and self.kernel.takes_float32(precision)
            and getattr(self.full, "name", None) == "fused"
            and not param.is_complex()
            and not is_dtensor(param)
            and self.kernel.takes(param, p_state, hp, precision)
        )

    def keep_replay(
        self, key: tuple, group: dict, bits: int, full: list, fused: list, kept: Any, hp: dict
    ) -> None:
        """Keep a :class:`.replay.LowBitReplay` of a step that ran every tensor on the kernels."""
        from .replay import LowBitReplay

        if LowBitReplay.keeps(kept):
            self.replays.keep(key, LowBitReplay(group["params"], bits, full, fused, kept, self.kernel, hp))

    def local_shard(self, param: torch.Tensor, p_state: State) -> Any:
        """DTensor ``param``'s :class:`adamkit.distributed.shards.Shard` (None: run on the DTensors)."""
        from ...distributed.shards import Shards

        if self.shards is None:
            self.shards = Shards()
        return self.shards.local(param, p_state)


#: Values per chunk of the reference path: its temporaries (the decoded moments, the rule's
#: intermediate arrays) are a few MB, not several times the parameter.
CHUNK = 1 << 18


def step_reference(
    rule: Rule, param: torch.Tensor, p_state: State, hp: dict[str, Any], precision: int
) -> None:
    """One step of ``param``: moments decoded, the rule in float32 (float64), moments encoded.

    An elementwise rule (all but :data:`.state.REDUCING`) runs on ``CHUNK`` values at a time, each
    chunk decoded, updated and encoded before the next: the same values as on the whole tensor
    (the chunks start at whole quantisation blocks; bfloat16's rounding noise is indexed in the
    tensor), with temporaries of a chunk's size.
    """
    dtype = work_dtype(param)
    if not p_state:
        p_state.update(fresh_lowbit_state(rule, param.detach(), hp, precision))
    names = MOMENTS[rule.name]
    whole = rule.name in REDUCING or param.numel() == 0 or not param.grad.is_contiguous()
    # moments stored at another precision (state made before the first step, a checkpoint) are
    # converted by a whole-tensor step, once
    converting = any(stored_precision(p_state, n) not in (None, precision) for n in names)
    if whole or converting or not chunkable(p_state, names, param):
        weights, grad = param.detach().to(dtype), param.grad.to(dtype)
        new_param, new_state = rule.update(weights, grad, decoded_state(rule, p_state, dtype), hp)
        param.detach().copy_(new_param)
        store_state(rule, p_state, new_state, precision, dtype)
        return
    scalars = decoded_state(rule, p_state, dtype, moments=False)
    flat_param, flat_grad = param.detach().view(-1), param.grad.view(-1)
    new_state: State = {}
    for start in range(0, flat_param.numel(), CHUNK):
        stop = min(start + CHUNK, flat_param.numel())
        chunk = dict(scalars)
        for name in names:
            moment = read_slice(p_state, name, start, stop, dtype)
            if moment is not None:
                chunk[name] = moment
        weights, grad = flat_param[start:stop].to(dtype), flat_grad[start:stop].to(dtype)
        new_param, new_state = rule.update(weights, grad, chunk, hp)
        flat_param[start:stop] = new_param
        step = new_state.get("step")  # seeds bfloat16's stochastic rounding (None: round to nearest)
        for name, value in new_state.items():
            if name in names and isinstance(value, torch.Tensor):
                write_slice(p_state, name, value, start, param, precision, dtype, step)
    # the scalars (the same from every chunk: each started from the same ones)
    store_state(rule, p_state, {k: v for k, v in new_state.items() if k not in names}, precision, dtype)


def fresh_lowbit_state(rule: Rule, weights: torch.Tensor, hp: dict[str, Any], precision: int) -> State:
    """The rule's initial state (from float32/float64 ``weights``) with its moments encoded.

    Every rule's ``init`` fills each moment with one value (zeros; Adagrad's
    ``initial_accumulator_value``): it runs on one element, and each moment is stored filled with
    that value (:func:`.state.filled_moment`), without a float32 tensor the size of the parameter.
    """
    if weights.numel() == 0:
        start = fresh_state(rule, weights, hp)
        p_state: State = {}
        store_state(rule, p_state, start, precision, weights.dtype)
        return p_state
    probe = fresh_state(rule, weights.reshape(-1)[:1], hp)
    p_state = {}
    step = probe.get("step")
    for key, value in probe.items():
        if key in MOMENTS[rule.name] and isinstance(value, torch.Tensor):
            filled_moment(p_state, key, value.item(), weights, precision, weights.dtype, step)
        else:
            p_state[key] = value
    return p_state


def decoded_state(rule: Rule, p_state: State, dtype: torch.dtype, moments: bool = True) -> State:
    """The state as the rule reads it: moments decoded to ``dtype`` (unless ``moments`` is false),
    scalar tensors as floats."""
    out: State = {}
    for key, value in p_state.items():
        if key in rule.scalar_state and isinstance(value, torch.Tensor):
            out[key] = scalar_number(rule, key, value)
        elif not isinstance(value, torch.Tensor):
            out[key] = value
    for name in MOMENTS[rule.name] if moments else ():
        moment = read_moment(p_state, name, dtype)
        if moment is not None:
            out[name] = moment
    return out


def store_state(
    rule: Rule, p_state: State, new: State, precision: int, dtype: torch.dtype, offset: int = 0
) -> None:
    """Write the rule's new state: moments encoded at ``precision``, scalars into their 0-dim tensors.

    ``offset``: the index in the whole tensor of the first element (a DTensor shard's, for
    16-bit rounding: :mod:`adamkit.distributed.shards`)."""
    moments = MOMENTS[rule.name]
    step = new.get("step")  # seeds bfloat16's stochastic rounding (None: round to nearest)
    for key, value in new.items():
        old = p_state.get(key)
        if key in moments and isinstance(value, torch.Tensor):
            write_moment(p_state, key, value, precision, dtype, step, offset)
        elif key in rule.scalar_state and isinstance(old, torch.Tensor):
            old.fill_(value)
        else:
            p_state[key] = value
