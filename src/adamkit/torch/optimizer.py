"""The base of every adamkit torch optimizer: torch.optim's interface over a rule and an engine.

What it gives each algorithm: param groups (validated like the constructor),
closures, ``zero_grad``, hooks, ``lr_scheduler`` support and ``state_dict`` with
torch.optim's keys (all inherited from :class:`torch.optim.Optimizer`), plus the
engine choice and a readable ``repr``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch

from ..rules.spec import Rule
from . import lowbit, state_bits_edit, state_check
from . import nonfinite as nonfinite_policy
from .compile import eager_step
from .engine import Engine, ReferenceEngine
from .flags import check_flags
from .step_hooks import with_step_hooks

#: torch.optim's bookkeeping arguments, stored in every group as torch stores them
#: so that state_dicts have the same group keys both ways.
TORCH_FLAGS = {"foreach": None, "capturable": False, "differentiable": False, "fused": None}

#: Version of what ``state_dict`` holds beyond torch.optim's layout (low-bit keys, scalar
#: state). Stored under ``state_dict()["adamkit"]``, a key torch.optim ignores; a checkpoint
#: without it (torch.optim's own) reads as schema 1. Raise it when the layout changes and
#: convert older schemas on load. 2: the signed 8-bit code 0x80 means NaN (was negative zero;
#: :func:`adamkit.torch.lowbit.convert.upgraded_codes` converts schema 1).
STATE_SCHEMA = 2


def choose_engine(rule: Rule, fused: bool | None, differentiable: bool = False) -> Engine:
    """``fused=None`` picks the fused engine where one exists; ``False`` the reference one, as does
    ``differentiable=True`` (autograd records only the reference engine: :mod:`.differentiable`)."""
    if fused is False or differentiable:
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

    #: torch.optim's step wrapper (hooks, profiler label), its label recorded in C++ (:mod:`.step_hooks`)
    profile_hook_step = staticmethod(with_step_hooks)

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
        nonfinite: str = "propagate",
    ) -> None:
        check_flags(
            hyper,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            state_bits=state_bits,
        )
        self.rule.validate(hyper)
        lowbit.check_state_bits(self.rule, {**hyper, "state_bits": state_bits})
        # --- robustness (adamkit.torch.nonfinite): the policy for NaN/inf gradients
        nonfinite_policy.check_policy(nonfinite)
        self.nonfinite = nonfinite
        self.skipped_steps = 0  # steps skipped by nonfinite="skip"
        # ---
        self._engine = choose_engine(self.rule, fused, differentiable)
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
        are torch's flags, ``state_bits`` and ``nonfinite``.
        """
        hyper = {key: given.get(key, default) for key, default in cls.rule.defaults.items()}
        flags = {key: given[key] for key in (*TORCH_FLAGS, "state_bits", "nonfinite") if key in given}
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
        """torch.optim's, with the group's hyperparameters checked before it is appended."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        full = {**self.defaults, **param_group}  # the group as torch will complete it
        self.rule.validate(full)
        lowbit.check_state_bits(self.rule, full)
        engine = lowbit.with_state_bits(self._engine, self.rule, full, self.defaults["fused"])
        super().add_param_group(param_group)
        self._engine = engine
        self._built_bits = state_bits_edit.built_bits(self.param_groups)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        # A checkpoint from another version or from torch.optim may lack some keys.
        for group in self.param_groups:
            for key, value in {**self.defaults, **TORCH_FLAGS}.items():
                group.setdefault(key, value)
        if not hasattr(self, "_engine"):
            self._engine = choose_engine(
                self.rule, self.defaults.get("fused"), self.defaults.get("differentiable", False)
            )
        for group in self.param_groups:
            self._engine = lowbit.with_state_bits(self._engine, self.rule, group, self.defaults.get("fused"))
        # an unpickled optimizer (deepcopy) keeps its policy; torch's load passes only state and groups
        self.__dict__.setdefault("nonfinite", "propagate")
        self.__dict__.setdefault("skipped_steps", 0)
        self.__dict__.setdefault("_built_bits", None)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch.optim's load, except that scalar state keeps the dtype it was saved in.

        torch.optim casts every floating state tensor but ``step`` to its parameter's dtype;
        a rule's other scalars (NAdam's ``mu_product``, SWATS's switch rate) would lose
        precision in a bfloat16 model, so they are restored as saved. Scalars whose stored
        precision the update follows (``rule.stored_precision``: NAdam's ``mu_product``) take
        torch's cast for a float32 or float64 parameter, so that the steps after a load are
        torch.optim's (a float64 model's ``mu_product`` continues in float64).

        Moments are put at this optimizer's ``state_bits`` (each group keeps its own), from
        whatever precision they were saved in (:mod:`adamkit.torch.lowbit.convert`).

        Everything is checked first (:mod:`adamkit.torch.state_check`: the optimizer class, keys,
        shapes, dtypes, 8-bit codes and scales): a ``ValueError`` leaves this optimizer as it was.
        """
        state_check.check_state_dict(self, state_dict, STATE_SCHEMA)
        # torch's load builds new containers; should anything still fail, the old ones come back
        before = (self.state, self.param_groups, self._engine)
        try:
            self._load_checked(state_dict)
        except BaseException:
            self.state, self.param_groups, self._engine = before
            raise
        self._built_bits = state_bits_edit.built_bits(self.param_groups)

    def _load_checked(self, state_dict: dict[str, Any]) -> None:
        """The load itself, of a state_dict :func:`.state_check.check_state_dict` accepted."""
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
                # (`saved` holds clones: torch's load may give this optimizer the checkpoint's tensors)
                if key in self.rule.stored_precision and param.dtype in (torch.float32, torch.float64):
                    value = value.to(param.dtype)  # torch.optim's cast, which its later steps follow
                self.state[param][key] = value.to(device=param.device)
        for i, param, param_bits in zip(ids, params, lowbit.bits_per_param(self.param_groups), strict=True):
            if moments.get(i):
                lowbit.convert_loaded(param, self.state[param], moments[i], param_bits)

    def state_dict(self) -> dict[str, Any]:
        """torch.optim's state_dict, marked with adamkit's state schema version and this algorithm.

        Parameters that have no state yet are left out, as torch.optim leaves them out (SGD
        without momentum saves ``{}``).
        """
        saved = super().state_dict()
        saved["state"] = {i: s for i, s in saved["state"].items() if s}
        return {**saved, "adamkit": {"schema": STATE_SCHEMA, "optimizer": self.rule.title}}

    def __getstate__(self) -> dict[str, Any]:
        kept = {k: v for k, v in super().__getstate__().items() if k != "_engine"}
        # torch pickles defaults, state and groups only; a deepcopy keeps the nonfinite policy too
        return {**kept, "nonfinite": self.nonfinite, "skipped_steps": self.skipped_steps}

    @eager_step  # outside torch.compile graphs; autograd records it only when differentiable
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimisation step; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # --- robustness: state_bits edited in param_groups, and the nonfinite policy
        bits = state_bits_edit.built_bits(self.param_groups)
        if bits != self.__dict__.get("_built_bits"):
            self._engine = state_bits_edit.follow(self, self.__dict__.get("_built_bits"))
            self._built_bits = bits
        if self.nonfinite != "propagate" and self._nonfinite_stops_step():
            return loss
        # ---
        for group in self.param_groups:
            self._engine.step_group(self.rule, group, self.state)
        return loss

    def _nonfinite_stops_step(self) -> bool:
        """Apply the ``nonfinite`` policy (:mod:`.nonfinite`): True when this step must not run."""
        nonfinite_policy.check_policy(self.nonfinite)  # it is a public attribute: it may have been edited
        where = nonfinite_policy.first_nonfinite(self.param_groups)
        if where is None:
            return False
        what = nonfinite_policy.describe(where, self.param_groups)
        if self.nonfinite == "raise":
            raise FloatingPointError(
                f"{type(self).__name__}: non-finite gradient in {what} (nonfinite='raise'); "
                "nothing was changed"
            )
        if self.skipped_steps == 0:
            warnings.warn(
                f"{type(self).__name__}: step skipped, non-finite gradient in {what} (nonfinite='skip'; "
                "further skips are counted in .skipped_steps without a warning)",
                RuntimeWarning,
                stacklevel=3,
            )
        self.skipped_steps += 1
        return True

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} (adamkit, engine={self.engine}) ("]
        shown = [k for k in self.defaults if k not in TORCH_FLAGS]
        for i, group in enumerate(self.param_groups):
            n = sum(p.numel() for p in group["params"])
            lines.append(f"Parameter Group {i}: {len(group['params'])} tensors, {n:,} values")
            lines.extend(f"    {key}: {group[key]}" for key in shown if key in group)
        lines.append(")")
        return "\n".join(lines)
