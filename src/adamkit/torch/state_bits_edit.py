"""``state_bits`` changed in ``param_groups`` after construction: honoured at the next step.

``opt.param_groups[0]["state_bits"] = 8`` is how a user (or a script that edits groups) would ask
for 8-bit moments mid-run. The next ``step`` checks the new value (``ValueError`` naming
``state_bits`` and the group, nothing changed), converts the group's existing moments to the new
precision (as ``load_state_dict`` does across precisions: :mod:`.lowbit.convert`), and steps with it.

Noticing costs one comparison per group and step: the optimizer remembers the ``state_bits`` its
state was built with (:func:`built_bits`).
"""

from __future__ import annotations

from typing import Any

import torch

from . import lowbit
from .lowbit.codecs import ABSMAX, CODES
from .lowbit.state import MOMENTS, precision_for, read_moment, stored_precision, work_dtype, write_moment


def built_bits(param_groups: list[dict[str, Any]]) -> list[tuple[type, Any]]:
    """The groups' ``state_bits`` as they are now, with their types (8.0 == 8, but is refused)."""
    return [(type(bits), bits) for bits in (group.get("state_bits", 32) for group in param_groups)]


def follow(optimizer: Any, before: list[Any] | None) -> Any:
    """Put the state of every group whose ``state_bits`` differs from ``before`` at its new precision.

    ``before`` is :func:`built_bits` from when the state was last known consistent (None: unknown,
    every group is looked at). Returns the engine to step with. Checks everything first.
    """
    rule = optimizer.rule
    changed = []
    engine = optimizer._engine
    for g, group in enumerate(optimizer.param_groups):
        bits = group.get("state_bits", 32)
        if before is not None and g < len(before) and before[g] == (type(bits), bits):
            continue
        try:
            lowbit.check_state_bits(rule, group)
        except ValueError as error:
            raise ValueError(f"param group {g}, edited after construction: {error}") from None
        engine = lowbit.with_state_bits(engine, rule, group, optimizer.defaults.get("fused"))
        changed.append(group)
    for group in changed:
        for param in group["params"]:
            p_state = optimizer.state.get(param)
            if p_state:
                restore_at(rule.name, param, p_state, group.get("state_bits", 32))
    return engine


def restore_at(rule_name: str, param: torch.Tensor, p_state: dict, bits: int) -> None:
    """Store ``param``'s moments at the precision a group with ``state_bits=bits`` gives it."""
    precision = precision_for(param, bits)
    dtype = param.dtype if bits == 32 else work_dtype(param)  # as the engines store them
    for name in MOMENTS.get(rule_name, ()):
        was = stored_precision(p_state, name)
        if was is None or was == precision and (precision != 32 or p_state[name].dtype == dtype):
            continue
        value = read_moment(p_state, name, dtype)
        for key in (name, name + CODES, name + ABSMAX):
            p_state.pop(key, None)
        write_moment(p_state, name, value, precision, dtype)
