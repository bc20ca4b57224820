r"""``differentiable=True``: the step recorded by autograd, for gradients through the optimizer.

Meta-learning differentiates a loss *after* some optimizer steps with respect to what went
into them: the learning rate given as a tensor, ``betas`` or ``weight_decay`` as tensors,
the initial parameters, the gradients (built with ``create_graph=True``). As in torch.optim,
the optimizer's parameters must then be non-leaf tensors (a leaf that requires grad cannot
be written in place) and the step runs with autograd on (:func:`.compile.eager_step`).

The reference engine runs the rule on *clones* of the parameter and its state, then writes
the results back with ``copy_``: autograd records ``copy_`` as "the new value replaces the
old", and the rule's graph holds the clones, which nothing overwrites, so the in-place write
never invalidates a tensor the backward pass needs. The update's math is the rule's, the
same as without ``differentiable``.

What carries gradients: the parameter, the gradient, the array state (moments) and every
hyperparameter given as a tensor that requires grad (each rule's math keeps it a tensor:
:func:`adamkit.rules.spec.scalar`). The step counter does not (it is a count, as in
torch.optim); scalar state the rule derives from a tensor hyperparameter (NAdam's
``mu_product`` from ``betas``) keeps its history from step to step. SWATS's switch from
Adam to SGD is a decision made on floats: the SGD rate it picks is a constant to autograd.

The fused kernels write through raw memory, which autograd cannot see: ``fused=True`` with
``differentiable=True`` is refused, as torch.optim refuses it, and ``fused=None`` runs this
path (``opt.engine == "reference"``). Low-bit state (``state_bits`` 16 or 8) is refused too:
rounding to a code has no useful derivative.
"""

from __future__ import annotations

from typing import Any

import torch

from ..rules.spec import Rule, State
from .engine import fresh_state, real_view


def recorded_hyper(group: dict[str, Any]) -> dict[str, Any]:
    """The group's hyperparameters for a recorded step: tensors that require grad stay tensors
    (1-element ones as 0-dim, as torch.optim holds them); other tensors become Python numbers."""

    def value(v: Any) -> Any:
        if not isinstance(v, torch.Tensor):
            return v
        return v.reshape(()) if v.requires_grad else v.item()

    out = {}
    for key, v in group.items():
        if key == "params":
            continue
        out[key] = tuple(map(value, v)) if isinstance(v, tuple) else value(v)
    return out


def read_recorded(rule: Rule, state: State) -> State:
    """The stored state as the rule reads it, cloned: the rule's graph must not see the writes.

    Scalar state becomes a Python number unless it carries autograd history or its stored
    precision matters (``rule.stored_precision``: torch.optim's differentiable NAdam computes its
    step sizes from the 0-dim ``mu_product`` tensor, in its dtype).
    """
    out: State = {}
    for key, v in state.items():
        if not isinstance(v, torch.Tensor):
            out[key] = v
        elif key in rule.scalar_state and not v.requires_grad and key not in rule.stored_precision:
            out[key] = v.item()
        else:
            out[key] = real_view(v).clone()
    return out


def write_recorded(rule: Rule, state: State, new: State, param: torch.Tensor) -> None:
    """Store the new state into the existing tensors with recorded in-place writes."""
    for key, value in new.items():
        old = state.get(key)
        if isinstance(old, torch.Tensor) and isinstance(value, torch.Tensor):
            real_view(old).copy_(value)
        elif isinstance(old, torch.Tensor):
            old.fill_(value)
        elif isinstance(value, torch.Tensor):  # state the step creates (SGD's momentum buffer)
            value = value.clone()  # the rule may hand back an input (SGD's first buffer is the gradient)
            state[key] = torch.view_as_complex(value) if param.is_complex() else value
        else:
            state[key] = value


def step_recorded(rule: Rule, param: torch.Tensor, grad: torch.Tensor, p_state: State, hp: dict) -> None:
    """One recorded step of ``param`` (the group's ``hp`` from :func:`recorded_hyper`)."""
    if grad.is_sparse:
        raise ValueError(
            f"{rule.title} with differentiable=True: sparse gradients are not supported "
            "(use dense gradients to differentiate through the optimizer)"
        )
    if not p_state:
        p_state.update(fresh_state(rule, param, hp))
    new_param, new_state = rule.update(
        real_view(param).clone(), real_view(grad), read_recorded(rule, p_state), hp
    )
    real_view(param).copy_(new_param)
    write_recorded(rule, p_state, new_state, param)
