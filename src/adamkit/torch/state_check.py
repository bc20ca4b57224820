"""Everything ``load_state_dict`` checks before it changes anything.

A checkpoint is read by :meth:`RuleOptimizer.load_state_dict` in two phases: :func:`check_state_dict`
looks at all of it and raises ``ValueError`` on the first thing this optimizer could not step
with; only then is the state replaced, in one go. So a bad checkpoint leaves the optimizer as it
was (same state, same groups, same step counts) and still able to step.

What is checked, per saved parameter (the n-th saved id is the n-th parameter of the groups):

* the checkpoint's optimizer: adamkit records its class (``state_dict()["adamkit"]["optimizer"]``);
  a torch.optim checkpoint, which records nothing, is recognised by its state keys (Adam's
  ``exp_avg`` is not SGD's): another algorithm's state is refused, naming both;
* the groups: as many as ours, with as many parameters each, and hyperparameters in range;
* the keys: none that this algorithm does not keep, and all those a stepped parameter has;
* the scalars (``step``, ``mu_product``, ...): one finite number each, in its range
  (:data:`SCALAR_RANGES`; SWATS switched to SGD needs the rate and lr it switched at);
* the moments (:mod:`.lowbit.codecs`): floating tensors shaped like the parameter (complex for a
  complex parameter) at 32 or 16 bits; at 8 bits ``name_codes`` (uint8, shaped like the parameter)
  and ``name_absmax`` (``ceil(numel / 256)`` finite, non-negative scales), both or neither. Their
  values finite, and second moments (all but ``exp_avg``, ``momentum_buffer``, ``grad_avg``) never
  negative: a NaN there would make every later step NaN. This reads the state once; a load is rare.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from ..rules import RULES
from ..rules.spec import Rule
from .lowbit.codecs import ABSMAX, BLOCK, CODES
from .lowbit.state import MOMENTS, SIGNED_MOMENTS

#: Scalar state with a range beyond "finite": (low, high, what the message says)
SCALAR_RANGES: dict[str, tuple[float, float, str]] = {
    "step": (0.0, math.inf, "a finite number >= 0"),
    "mu_product": (0.0, 1.0, "in (0, 1]: a product of momenta"),  # NAdam: 0 would divide by zero
    "switched": (0.0, 1.0, "0 or 1"),  # SWATS
    "switch_step": (0.0, math.inf, "a finite number >= 0"),
    "sgd_lr": (0.0, math.inf, "a finite number >= 0"),
    "lr_at_switch": (0.0, math.inf, "a finite number >= 0"),
}

_KEPT: dict[str, frozenset[str]] = {}  # by rule name: computed once


def keys_kept(rule: Rule) -> frozenset[str]:
    """Every state key ``rule`` may store, at any precision and with any flags."""
    if rule.name not in _KEPT:
        _KEPT[rule.name] = _keys_kept(rule)
    return _KEPT[rule.name]


def _keys_kept(rule: Rule) -> frozenset[str]:
    moments = MOMENTS.get(rule.name, ())
    init_keys = set()
    for hp in _flag_variants(rule):
        for shape in ((1,), (2, 2)):  # a vector's state and a matrix's (Adafactor factors matrices)
            init_keys |= set(rule.init(torch.zeros(shape), hp))
    low_bit = {m + suffix for m in moments for suffix in (CODES, ABSMAX)}
    return frozenset({*rule.scalar_state, *init_keys, *moments, *low_bit})


def _flag_variants(rule: Rule) -> list[dict[str, Any]]:
    """The defaults with each boolean flag on (AMSGrad's extra moment exists only with it)."""
    flags = [k for k, v in rule.defaults.items() if isinstance(v, bool)]
    return [dict(rule.defaults)] + [{**rule.defaults, k: True} for k in flags]


def fresh_like(rule: Rule, hp: Mapping[str, Any], param: torch.Tensor) -> dict[str, Any]:
    """The state ``rule`` gives ``param`` under ``hp``, on the meta device (shapes, no memory)."""
    like = torch.empty(tuple(param.shape), dtype=param.dtype, device="meta")
    return rule.init(like, hp)


def keys_required(rule: Rule, hp: Mapping[str, Any], param: torch.Tensor) -> frozenset[str]:
    """The keys every stepped ``param`` has under ``hp`` (a moment may be stored in any precision)."""
    return frozenset(fresh_like(rule, hp, param))


def likely_sources(keys: set[str]) -> list[str]:
    """The algorithms whose state could hold ``keys`` (to name a foreign checkpoint's optimizer)."""
    return sorted({r.title for r in RULES.values() if keys <= keys_kept(r)})


def check_state_dict(optimizer: Any, state_dict: Any, schema: int) -> None:
    """Raise ``ValueError`` if ``state_dict`` cannot be loaded into ``optimizer`` as it is.

    ``schema`` is the newest state schema this adamkit reads. Nothing is modified.
    """
    rule: Rule = optimizer.rule
    if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= set(state_dict):
        raise ValueError(
            "load_state_dict: expected a dict with 'state' and 'param_groups' (an optimizer's "
            f"state_dict()), got {type(state_dict).__name__}"
            + (f" with keys {sorted(map(str, state_dict))}" if isinstance(state_dict, Mapping) else "")
        )
    marks = state_dict.get("adamkit", {})
    if not isinstance(marks, Mapping):
        raise ValueError(f"load_state_dict: state_dict['adamkit'] must be a dict, got {marks!r}")
    saved_schema = marks.get("schema", 1)
    if saved_schema > schema:
        raise ValueError(
            f"this checkpoint has adamkit state schema {saved_schema}; this adamkit reads schemas "
            f"up to {schema}: upgrade adamkit to load it"
        )
    recorded = marks.get("optimizer")
    if recorded is not None and recorded != rule.title:
        raise ValueError(
            f"this checkpoint holds the state of {recorded}; it cannot be loaded into {rule.title} "
            f"(load it into {recorded}, or start {rule.title} afresh)"
        )
    groups = list(optimizer.param_groups)
    saved_groups = state_dict["param_groups"]
    if not isinstance(saved_groups, list | tuple) or len(saved_groups) != len(groups):
        count = len(saved_groups) if isinstance(saved_groups, list | tuple) else repr(saved_groups)
        raise ValueError(
            f"load_state_dict: the checkpoint has {count} param groups, this optimizer {len(groups)}"
        )
    states = state_dict["state"]
    if not isinstance(states, Mapping):
        raise ValueError(f"load_state_dict: state_dict['state'] must be a dict, got {type(states).__name__}")
    for g, (group, saved) in enumerate(zip(groups, saved_groups, strict=True)):
        if not isinstance(saved, Mapping) or len(saved.get("params", ())) != len(group["params"]):
            size = len(saved.get("params", ())) if isinstance(saved, Mapping) else repr(saved)
            raise ValueError(
                f"load_state_dict: param group {g} of the checkpoint has {size} parameters, "
                f"this optimizer's {len(group['params'])}"
            )
        hp = {**optimizer.defaults, **{k: v for k, v in saved.items() if k != "params"}}
        hp["state_bits"] = group.get("state_bits", 32)  # ours wins: see load_state_dict
        try:
            rule.validate(hp)
        except ValueError as error:
            raise ValueError(f"load_state_dict: param group {g} of the checkpoint: {error}") from None
        for index, (i, param) in enumerate(zip(saved["params"], group["params"], strict=True)):
            p_state = states.get(i)
            if p_state is not None:
                shape = tuple(param.shape)
                where = f"the state of param group {g}, parameter {index} (id {i}, shape {shape})"
                check_param_state(rule, hp, param, p_state, where)


def check_param_state(
    rule: Rule, hp: Mapping[str, Any], param: torch.Tensor, p_state: Any, where: str
) -> None:
    """Raise ``ValueError`` (naming ``where``) unless ``rule`` can step ``param`` with ``p_state``."""
    if not isinstance(p_state, Mapping):
        raise ValueError(f"load_state_dict: {where} must be a dict, got {type(p_state).__name__}")
    if not p_state:
        return  # never stepped: starts afresh, as in torch.optim
    keys = set(p_state)
    foreign = keys - keys_kept(rule)
    if foreign:
        sources = [s for s in likely_sources(keys) if s != rule.title]
        source = " or ".join(sources) if sources else "another optimizer"
        raise ValueError(
            f"load_state_dict: {where} has {sorted(foreign)}, which {rule.title} does not keep "
            f"(its keys: {', '.join(sorted(keys_kept(rule)))}): this looks like the state of {source}; "
            f"load it into that optimizer, not {rule.title}"
        )
    moments = MOMENTS.get(rule.name, ())
    fresh = fresh_like(rule, hp, param)
    for key in sorted(fresh):
        if key in keys or key in moments and keys & {key + CODES, key + ABSMAX}:  # 8-bit: checked below
            continue
        raise ValueError(
            f"load_state_dict: {where} lacks {key!r} ({rule.title} keeps "
            f"{', '.join(sorted(fresh))} for every stepped parameter)"
        )
    for key, value in fresh.items():  # the rest of the state (not a moment, not a step counter)
        if key not in moments and key not in rule.scalar_state:
            _check_other(key, p_state[key], value, where)
    numbers = {key: _check_scalar(key, p_state[key], where) for key in rule.scalar_state if key in keys}
    switched_ok = numbers.get("lr_at_switch", 0) > 0 and numbers.get("sgd_lr", 0) > 0
    if numbers.get("switched") == 1 and not switched_ok:  # SWATS's SGD phase divides by lr_at_switch
        raise ValueError(
            f"load_state_dict: {where}: switched to SGD with sgd_lr {numbers.get('sgd_lr')} and lr_at_switch "
            f"{numbers.get('lr_at_switch')} (both must be > 0 once switched)"
        )
    for name in moments:
        _check_moment(name, p_state, param, where)


def _check_other(key: str, saved: Any, fresh: Any, where: str) -> None:
    """State that is neither a moment nor a step counter: an array as the rule makes it (Adafactor's
    factors, Schedule-Free's ``z``), finite; or a finite number (Schedule-Free's sums)."""
    if not isinstance(fresh, torch.Tensor):
        ok = isinstance(saved, int | float) and not isinstance(saved, bool) and math.isfinite(saved)
        if not ok:
            raise ValueError(f"load_state_dict: {where}: {key!r} must be a finite number, got {saved!r}")
        return
    kind_ok = isinstance(saved, torch.Tensor) and (
        saved.is_complex() if fresh.is_complex() else saved.is_floating_point()
    )
    if not kind_ok or tuple(saved.shape) != tuple(fresh.shape):
        tensor = isinstance(saved, torch.Tensor)
        got = f"shape {tuple(saved.shape)}, dtype {saved.dtype}" if tensor else repr(saved)
        raise ValueError(
            f"load_state_dict: {where}: {key!r} has {got} (must be a floating tensor of shape "
            f"{tuple(fresh.shape)})"
        )
    if not _within(_local(saved), nonnegative=False):
        raise ValueError(f"load_state_dict: {where}: {key!r} holds non-finite values")


def _check_scalar(key: str, value: Any, where: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_complex():
            raise ValueError(
                f"load_state_dict: {where}: {key!r} must be one real number, got a tensor of shape "
                f"{tuple(value.shape)} and dtype {value.dtype}"
            )
        number = float(value.detach().cpu().reshape(()))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        raise ValueError(f"load_state_dict: {where}: {key!r} must be a number, got {value!r}")
    low, high, allowed = SCALAR_RANGES.get(key, (-math.inf, math.inf, "a finite number"))
    in_range = low <= number <= high
    if key == "mu_product":
        in_range = in_range and number > 0
    elif key == "switched":
        in_range = number in (0, 1)
    if not math.isfinite(number) or not in_range:
        raise ValueError(f"load_state_dict: {where}: invalid {key!r} {number} (must be {allowed})")
    return number


def _check_moment(name: str, p_state: Mapping[str, Any], param: torch.Tensor, where: str) -> None:
    plain, codes, absmax = (p_state.get(name + suffix) for suffix in ("", CODES, ABSMAX))
    present = [k for k, v in ((name, plain), (name + CODES, codes), (name + ABSMAX, absmax)) if v is not None]
    if not present:
        return
    for key in present:
        if not isinstance(p_state[key], torch.Tensor):
            kind = type(p_state[key]).__name__
            raise ValueError(f"load_state_dict: {where}: {key!r} must be a tensor, got {kind}")
    shape = tuple(param.shape)
    if plain is not None:
        if codes is not None or absmax is not None:
            raise ValueError(
                f"load_state_dict: {where} holds {name!r} in two precisions ({', '.join(present)}): keep one"
            )
        want = "complex" if param.is_complex() else "real floating"
        ok = plain.is_complex() if param.is_complex() else plain.is_floating_point()
        if not ok or tuple(plain.shape) != shape:
            raise ValueError(
                f"load_state_dict: {where}: {name!r} has shape {tuple(plain.shape)} and dtype {plain.dtype} "
                f"(must be a {want} tensor of shape {shape}, like its parameter)"
            )
        _check_values(name, name, plain, where)
        return
    if codes is None or absmax is None:
        missing = name + (ABSMAX if codes is not None else CODES)
        raise ValueError(
            f"load_state_dict: {where} has {present[0]!r} without {missing!r} (8-bit state needs both)"
        )
    if not param.is_floating_point():
        raise ValueError(
            f"load_state_dict: {where}: 8-bit {name!r} for a {param.dtype} parameter "
            "(8-bit state is for real floating parameters)"
        )
    if codes.dtype != torch.uint8 or tuple(codes.shape) != shape:
        raise ValueError(
            f"load_state_dict: {where}: {name + CODES!r} has shape {tuple(codes.shape)} "
            f"and dtype {codes.dtype} "
            f"(must be torch.uint8 of shape {shape}, like its parameter)"
        )
    blocks = -(-param.numel() // BLOCK)
    # (blocks,), or (rows, row_size / 256) for a DTensor sharded by rows (adamkit.distributed)
    if absmax.dtype != torch.float32 or absmax.numel() != blocks:
        raise ValueError(
            f"load_state_dict: {where}: {name + ABSMAX!r} has shape {tuple(absmax.shape)} "
            f"and dtype {absmax.dtype} "
            f"(must be torch.float32 of shape ({blocks},): one scale per {BLOCK} values)"
        )
    absmax = _local(absmax)
    bad = ~torch.isfinite(absmax) | (absmax < 0)
    if bool(bad.any()):
        first = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"load_state_dict: {where}: {name + ABSMAX!r}[{first}] is {float(absmax[first])} "
            "(scales must be finite and >= 0)"
        )


def _check_values(name: str, key: str, values: torch.Tensor, where: str) -> None:
    """Moment ``name`` (stored under ``key``) finite, and not negative unless it is a signed moment."""
    values = _local(values)
    nonnegative = name not in SIGNED_MOMENTS and not values.is_complex()
    if _within(values, nonnegative):
        return
    bad = ~torch.isfinite(values)  # only now, to say where: a mask costs bytes per value
    if nonnegative:
        bad |= values < 0
    if bool(bad.any()):
        first = tuple(int(i) for i in bad.nonzero()[0])
        allowed = "finite" if name in SIGNED_MOMENTS else "finite and >= 0 (a second moment)"
        raise ValueError(
            f"load_state_dict: {where}: {key!r}{list(first)} is {values[first].item()} (must be {allowed})"
        )


def _within(values: torch.Tensor, nonnegative: bool) -> bool:
    """All of ``values`` finite (and >= 0 if ``nonnegative``), found without a temporary per value.

    ``torch.isfinite`` makes a float and two bool tensors the size of ``values`` (7 bytes a
    value for float32: a 50M-parameter checkpoint's load peaked there); the extremes say the
    same, since they are NaN if any value is, and infinite if any value is.
    """
    if values.numel() == 0:
        return True
    if values.is_complex():
        values = torch.view_as_real(values)
    if not values.is_floating_point():
        return not nonnegative or bool(values.min() >= 0)
    low, high = torch.aminmax(values)
    low, high = float(low), float(high)
    return math.isfinite(low) and math.isfinite(high) and (low >= 0 or not nonnegative)


def _local(t: torch.Tensor) -> torch.Tensor:
    """The values this process holds: a DTensor's local shard (each rank checks its own), else ``t``."""
    to_local = getattr(t, "to_local", None)
    return (to_local() if callable(to_local) else t).detach()
