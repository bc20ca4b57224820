"""The base of every adamkit torch optimizer: torch.optim's interface over a rule and an engine.

What it gives each algorithm: param groups (validated like the constructor),
closures, ``zero_grad``, hooks, ``lr_scheduler`` support and ``state_dict`` with
torch.optim's keys (all inherited from :class:`torch.optim.Optimizer`), plus the
engine choice and a readable ``repr``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from ..rules.spec import Rule
from . import lowbit
from .engine import Engine, ReferenceEngine

#: torch.optim's bookkeeping arguments, stored in every group as torch stores them
#: so that state_dicts have the same group keys both ways.
TORCH_FLAGS = {"foreach": None, "capturable": False, "differentiable": False, "fused": None}

#: Version of what ``state_dict`` holds beyond torch.optim's layout (low-bit keys, scalar
#: state). Stored under ``state_dict()["adamkit"]``, a key torch.optim ignores; a checkpoint
#: without it (torch.optim's own) reads as schema 1. Raise it when the layout changes and
#: convert older schemas on load.
STATE_SCHEMA = 1


def choose_engine(rule: Rule, fused: bool | None) -> Engine:
    """``fused=None`` picks the fused engine where one exists; ``False`` the reference one."""
    if fused is False:
        return ReferenceEngine()
    from . import fused as fused_engines  # optional: needs numba

    engine = fused_engines.engine_for(rule)
    if engine is None:
        if fused:
            raise ValueError(f"fused=True: no fused engine for {rule.name} on this machine")
        return ReferenceEngine()
    return engine


class RuleOptimizer(torch.optim.Optimizer):
    """A ``torch.optim.Optimizer`` that executes an :mod:`adamkit.rules` rule.

    Subclasses set ``rule`` and write an ``__init__`` with torch.optim's signature
    that passes its arguments here as ``hyper``.
    """

    rule: Rule

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        hyper: dict[str, Any],
        *,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        state_bits: int = 32,
    ) -> None:
        if differentiable:
            raise ValueError(
                "differentiable=True is not supported by adamkit: its updates are not "
                "recorded by autograd (use torch.optim for differentiable optimisation)"
            )
        if capturable:
            raise ValueError(
                "capturable=True is not supported by adamkit: its step keeps scalars on "
                "the host (CUDA graph capture needs torch.optim's capturable mode)"
            )
        self.rule.validate(hyper)
        lowbit.check_state_bits(self.rule, {**hyper, "state_bits": state_bits})
        self._engine = choose_engine(self.rule, fused)
        defaults = {
            **hyper,
            "state_bits": state_bits,  # moments in 32, 16 (bfloat16) or 8 bits: see adamkit.torch.lowbit
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)

    @classmethod
    def _arguments(cls, given: dict[str, Any]) -> dict[str, Any]:
        """A subclass constructor's ``locals()`` as this constructor's arguments.

        Subclasses spell out torch.optim's signature (so ``help()`` and IDEs show it) and
        pass ``locals()`` here: the rule's hyperparameters go to ``hyper`` (those the
        signature lacks take the rule's defaults, as AdamW's decoupled decay), the rest
        are torch's flags and ``state_bits``.
        """
        hyper = {key: given.get(key, default) for key, default in cls.rule.defaults.items()}
        flags = {key: given[key] for key in (*TORCH_FLAGS, "state_bits") if key in given}
        return {"params": given["params"], "hyper": hyper, **flags}

    @property
    def engine(self) -> str:
        """The engine executing the rule: ``"reference"`` or a fused engine's name (per parameter,
        where the kernels cannot take some: :meth:`engine_of`)."""
        return self._engine.name

    def engine_of(self, param: torch.Tensor) -> str:
        """The engine that ran ``param``'s last step: ``"fused"``, or ``"reference"`` where the kernels
        could not take it (a bfloat16 parameter, a DTensor whose gradient is placed otherwise, ...).
        Before its first step: the engine it is meant for."""
        engine = self._engine
        return engine.engine_of(param) if hasattr(engine, "engine_of") else engine.name

    @property
    def state_precision(self) -> str | None:
        """How the moments are stored when a group asks for ``state_bits`` 16 or 8 (else None)."""
        return lowbit.describe(self.param_groups)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        self.rule.validate(self.param_groups[-1])
        lowbit.check_state_bits(self.rule, self.param_groups[-1])
        self._engine = lowbit.with_state_bits(
            self._engine, self.rule, self.param_groups[-1], self.defaults["fused"]
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        # A checkpoint from another version or from torch.optim may lack some keys.
        for group in self.param_groups:
            for key, value in {**self.defaults, **TORCH_FLAGS}.items():
                group.setdefault(key, value)
        if not hasattr(self, "_engine"):
            self._engine = choose_engine(self.rule, self.defaults.get("fused"))
        for group in self.param_groups:
            self._engine = lowbit.with_state_bits(self._engine, self.rule, group, self.defaults.get("fused"))

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch.optim's load, except that scalar state keeps the dtype it was saved in.

        torch.optim casts every floating state tensor but ``step`` to its parameter's dtype;
        a rule's other scalars (NAdam's ``mu_product``, SWATS's switch rate) would lose
        precision in a bfloat16 model, so they are restored as saved.

        Moments are put at this optimizer's ``state_bits`` (each group keeps its own), from
        whatever precision they were saved in (:mod:`adamkit.torch.lowbit.convert`).
        """
        schema = state_dict.get("adamkit", {}).get("schema", 1)
        if schema > STATE_SCHEMA:
            raise ValueError(
                f"this checkpoint has adamkit state schema {schema}; this adamkit reads schemas "
                f"up to {STATE_SCHEMA}: upgrade adamkit to load it"
            )
        scalar_keys = self.rule.scalar_state
        saved = {
            i: {k: v.clone() for k, v in s.items() if k in scalar_keys and isinstance(v, torch.Tensor)}
            for i, s in state_dict["state"].items()
        }
        moments = lowbit.moment_tensors(state_dict)
        bits = [group["state_bits"] for group in self.param_groups]
        super().load_state_dict(state_dict)
        for group, group_bits in zip(self.param_groups, bits, strict=True):
            group["state_bits"] = group_bits  # this optimizer's precision, not the checkpoint's
        ids = [i for group in state_dict["param_groups"] for i in group["params"]]
        params = [p for group in self.param_groups for p in group["params"]]
        for i, param in zip(ids, params, strict=True):
            for key, value in saved.get(i, {}).items():
                self.state[param][key] = value.to(device=param.device)
        for i, param, param_bits in zip(ids, params, lowbit.bits_per_param(self.param_groups), strict=True):
            if moments.get(i):
                lowbit.convert_loaded(param, self.state[param], moments[i], param_bits)

    def state_dict(self) -> dict[str, Any]:
        """torch.optim's state_dict, marked with adamkit's state schema version."""
        return {**super().state_dict(), "adamkit": {"schema": STATE_SCHEMA}}

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in super().__getstate__().items() if k != "_engine"}

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimisation step; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._engine.step_group(self.rule, group, self.state)
        return loss

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} (adamkit, engine={self.engine}) ("]
        shown = [k for k in self.defaults if k not in TORCH_FLAGS]
        for i, group in enumerate(self.param_groups):
            n = sum(p.numel() for p in group["params"])
            lines.append(f"Parameter Group {i}: {len(group['params'])} tensors, {n:,} values")
            lines.extend(f"    {key}: {group[key]}" for key in shown if key in group)
        lines.append(")")
        return "\n".join(lines)
