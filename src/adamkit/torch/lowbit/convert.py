"""Checkpoints across precisions: any saved moments load into an optimizer of any ``state_bits``.

A checkpoint says by its keys how each moment was stored (:mod:`.codecs`): ``name_codes``
and ``name_absmax`` (8-bit), a bfloat16 ``name`` (16-bit) or a float ``name`` (32-bit,
also torch.optim's). Loading decodes what is there and encodes it at the precision the
loading optimizer gives that parameter; when the two agree, the saved tensors are kept
as they are, bit for bit. The loading optimizer's ``state_bits`` wins over the
checkpoint's: it is how this optimizer was built, not a hyperparameter to restore.

:func:`full_precision_state_dict` turns a low-bit checkpoint into one torch.optim loads.

Example:
    >>> import torch, adamkit.torch as ak
    >>> w = torch.nn.Parameter(torch.randn(64, 64))
    >>> eight = ak.Adam([w], state_bits=8)
    >>> w.grad = torch.randn(64, 64); eight.step()
    >>> full = ak.Adam([w])                          # state_bits=32
    >>> full.load_state_dict(eight.state_dict())     # codes decoded to float32
    >>> full.state[w]["exp_avg"].dtype
    torch.float32
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from ...distributed import is_dtensor
from .codecs import ABSMAX, CODES
from .dynamic_map import NAN_CODE
from .state import (
    ALL_MOMENTS,
    SIGNED_MOMENTS,
    precision_for,
    read_moment,
    stored_precision,
    work_dtype,
    write_moment,
)

#: The first state schema (``state_dict()["adamkit"]["schema"]``) whose signed 8-bit code ``0x80``
#: means NaN (:data:`.dynamic_map.NAN_CODE`); before it, it meant negative zero.
NAN_CODE_SCHEMA = 2


def moment_tensors(state_dict: dict[str, Any]) -> dict[Any, dict[str, torch.Tensor]]:
    """Per saved parameter id, its moment tensors as saved (before torch's load casts them), in the
    current schema's meaning (:func:`upgraded_codes`)."""
    schema = state_dict.get("adamkit", {}).get("schema", 1)
    return {
        i: {
            k: upgraded_codes(k, v, schema)
            for k, v in s.items()
            if isinstance(v, torch.Tensor) and _moment_of(k) is not None
        }
        for i, s in state_dict["state"].items()
    }


def upgraded_codes(key: str, value: torch.Tensor, schema: int) -> torch.Tensor:
    """``value`` saved under ``key`` by state schema ``schema``, as the current schema reads it.

    Schema 1 stored a first moment that rounded to zero with a negative sign as code ``0x80``
    ("negative zero"), which now stands for NaN: those codes become 0 (a copy; the checkpoint is
    left as it was). Nothing else changed meaning: schema 1's second-moment codes decode as before
    (only the encoder changed: a positive value no longer rounds to zero).
    """
    if schema >= NAN_CODE_SCHEMA or not key.endswith(CODES) or key.removesuffix(CODES) not in SIGNED_MOMENTS:
        return value
    return torch.where(value == NAN_CODE, torch.zeros_like(value), value)


def _moment_of(key: str) -> str | None:
    base = key.removesuffix(CODES).removesuffix(ABSMAX)
    return base if base in ALL_MOMENTS else None


def convert_loaded(param: torch.Tensor, p_state: dict, saved: dict[str, torch.Tensor], bits: int) -> None:
    """Put ``param``'s loaded moments (``saved``: as in the checkpoint) at this optimizer's precision."""
    if is_dtensor(param) and isinstance(p_state, dict):  # the codecs run on this rank's shard
        from ...distributed.shards import convert_on_shard

        convert_on_shard(param, p_state, saved, bits, convert_loaded)
        return
    names = {_moment_of(k) for k in saved}
    precision = precision_for(param, bits)
    dtype = param.dtype if bits == 32 else work_dtype(param)
    for name in sorted(names):
        was = stored_precision(saved, name)
        if bits == 32 and was != 8:
            continue  # torch's own load already cast it to the parameter's dtype (today's behaviour)
        if was == precision and precision in (8, 16):  # same codec: keep the saved bits
            for key in (name, name + CODES, name + ABSMAX):
                p_state.pop(key, None)
                if key in saved:
                    p_state[key] = saved[key].detach().clone().to(param.device)
            continue
        value = read_moment(saved, name, dtype).to(param.device)
        for key in (name, name + CODES, name + ABSMAX):  # torch's load cast these; replace them
            p_state.pop(key, None)
        write_moment(p_state, name, value, precision, dtype)


def full_precision_state_dict(state_dict: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``state_dict`` with every moment in float32 and ``state_bits=32``, for torch.optim."""
    out = {"state": {}, "param_groups": copy.deepcopy(state_dict["param_groups"])}
    for group in out["param_groups"]:
        if "state_bits" in group:
            group["state_bits"] = 32
    schema = state_dict.get("adamkit", {}).get("schema", 1)
    for i, s in state_dict["state"].items():
        s = {k: upgraded_codes(k, v, schema) if isinstance(v, torch.Tensor) else v for k, v in s.items()}
        names = {_moment_of(k) for k in s} - {None}
        plain = {k: v for k, v in s.items() if _moment_of(k) is None}
        for name in names:
            plain[name] = read_moment(s, name, torch.float32)
        out["state"][i] = plain
    return out
