"""Engines execute a rule over a param group. The reference engine is the rule itself.

An engine never decides hyperparameters: it receives the group, the rule and the
optimizer's state, and writes the new parameters and state in place. The fused engines
(:mod:`adamkit.torch.fused`) follow the same contract and are picked at construction.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch

from ..rules.spec import Rule, State


def scalar_dtype() -> torch.dtype:
    """torch.optim's dtype for ``step`` and other scalar state: float64 under a float64 default."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def plain_hyper(group: dict[str, Any]) -> dict[str, Any]:
    """The group's hyperparameters with 1-element tensors (a tensor ``lr``) as Python floats."""
    out = dict(group)
    out.pop("params", None)
    for key, value in out.items():
        if type(value) in PLAIN_NUMBERS:  # most of them: nothing to convert (read every step)
            continue
        if isinstance(value, torch.Tensor):
            out[key] = value.item()
        elif isinstance(value, tuple) and any(isinstance(v, torch.Tensor) for v in value):
            out[key] = tuple(v.item() if isinstance(v, torch.Tensor) else v for v in value)
    return out


PLAIN_NUMBERS = frozenset({float, int, bool, str, type(None)})


def real_view(t: torch.Tensor) -> torch.Tensor:
    """Complex tensors are updated as pairs of reals, as torch.optim does."""
    return torch.view_as_real(t) if t.is_complex() else t


def fresh_state(rule: Rule, param: torch.Tensor, hp: dict[str, Any]) -> State:
    """The rule's initial state as torch.optim stores it: scalars become 0-dim tensors."""
    state = rule.init(param.detach(), hp)
    for key in rule.scalar_state:
        if key in state:
            state[key] = torch.tensor(float(state[key]), dtype=scalar_dtype())
    return state


def scalar_number(rule: Rule, key: str, value: torch.Tensor) -> float | np.float32:
    """Scalar state ``key``, held in the 0-dim tensor ``value``, as the rule reads it: a Python
    float, but a NumPy float32 for a key of ``rule.stored_precision`` stored in float32 (the rule
    then rounds its update as torch.optim's in-place update of that tensor does)."""
    number = value.item()
    if key in rule.stored_precision and value.dtype == torch.float32:
        return np.float32(number)
    return number


def read_state(rule: Rule, state: State) -> State:
    """The stored state as the rule reads it: 0-dim scalar tensors as numbers (:func:`scalar_number`),
    complex as real."""
    out: State = {}
    for key, value in state.items():
        if key in rule.scalar_state and isinstance(value, torch.Tensor):
            out[key] = scalar_number(rule, key, value)
        elif isinstance(value, torch.Tensor):
            out[key] = real_view(value)
        else:
            out[key] = value
    return out


def write_state(rule: Rule, state: State, new: State, param: torch.Tensor | None = None) -> None:
    """Store the rule's new state into the existing tensors (keeps their identity and dtype).

    A key the step creates (SGD's ``momentum_buffer``) is stored complex for a complex ``param``.
    """
    for key, value in new.items():
        old = state.get(key)
        if key in rule.scalar_state and isinstance(old, torch.Tensor):
            old.fill_(value)
        elif isinstance(old, torch.Tensor) and isinstance(value, torch.Tensor):
            real_view(old).copy_(value)
        elif isinstance(value, torch.Tensor):
            value = value.clone()
            state[key] = torch.view_as_complex(value) if param is not None and param.is_complex() else value
        else:
            state[key] = value


class Engine(Protocol):
    name: str

    def step_group(self, rule: Rule, group: dict[str, Any], state: dict) -> None: ...


class ReferenceEngine:
    """Runs the rule on each parameter, one tensor at a time: the readable oracle."""

    name = "reference"

    def engine_of(self, param: torch.Tensor) -> str:
        return self.name

    def step_group(self, rule: Rule, group: dict[str, Any], state: dict) -> None:
        if group.get("differentiable"):  # recorded by autograd, for gradients through the step
            from .differentiable import recorded_hyper, step_recorded  # builds on this module's helpers

            hp = recorded_hyper(group)
            for param in group["params"]:
                if param.grad is not None:
                    step_recorded(rule, param, param.grad, state[param], hp)
            return
        hp = plain_hyper(group)
        for param in group["params"]:
            grad = param.grad
            if grad is None:
                continue
            if grad.is_sparse:  # the rows present only, if the rule allows it (else a clear error)
                from .sparse import step_sparse  # sparse.py builds on this module's helpers

                step_sparse(rule, param, grad, state[param], hp)
                continue
            p_state = state[param]
            if not p_state:
                p_state.update(fresh_state(rule, param, hp))
            new_param, new_state = rule.update(
                real_view(param.detach()), real_view(grad), read_state(rule, p_state), hp
            )
            real_view(param.detach()).copy_(new_param)
            write_state(rule, p_state, new_state, param)
