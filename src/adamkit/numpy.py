"""NumPy optimizers on the rules: the same names, defaults and math as :mod:`adamkit.torch`.

Parameters are NumPy arrays updated in place; gradients are handed to ``step``::

    >>> import numpy as np
    >>> from adamkit.numpy import Adam
    >>> w = np.array([1.0, -2.0])
    >>> opt = Adam([w], lr=0.1)
    >>> opt.step([2 * w])          # the gradient of sum(w**2)
    >>> w
    array([ 0.9, -1.9])

Param groups work as in torch: ``Adam([{"params": [w], "lr": 0.1}, {"params": [b]}])``.
A ``None`` gradient skips its parameter for that step.

Parameters are floating or complex arrays (an integer array cannot take a fractional step).
A step checks every gradient first (count, shapes, the ``nonfinite`` policy as in
:mod:`adamkit.torch.nonfinite`) and computes every update before it writes any: a step that
raises leaves the parameters and the state as they were.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .rules import RULES
from .rules.schedulefree import SCHEDULE_FREE_ADAMW, to_eval, to_train
from .rules.spec import Rule, State

NONFINITE = ("propagate", "skip", "raise")  # as adamkit.torch.nonfinite (kept free of torch)


def _real(a: np.ndarray) -> np.ndarray:
    """Complex arrays are updated as pairs of reals, as torch.optim does. (The dtype's kind, not
    ``np.iscomplexobj``: a step asks this of every array, and that function's dispatch costs more.)"""
    return a.view(a.real.dtype) if a.dtype.kind == "c" else a


class NumpyOptimizer:
    """Executes a rule over lists of NumPy arrays. Subclasses set ``rule``."""

    rule: Rule

    def __init__(
        self, params: Iterable[Any], lr: float | None = None, *, nonfinite: str = "propagate", **hyper: Any
    ) -> None:
        if lr is not None:
            hyper["lr"] = lr
        if not isinstance(nonfinite, str) or nonfinite not in NONFINITE:
            allowed = ", ".join(map(repr, NONFINITE))
            raise ValueError(f"Invalid nonfinite (nonfinite): {nonfinite!r} (must be one of {allowed})")
        self.nonfinite = nonfinite
        self.skipped_steps = 0
        self.defaults = self.rule.hyper(**hyper)
        params = list(params)
        if params and isinstance(params[0], dict):
            groups = params
        else:
            groups = [{"params": params}]
        self.param_groups: list[dict[str, Any]] = []
        for group in groups:
            full = {**self.defaults, **group, "params": list(group["params"])}
            self.rule.validate(full)
            self.param_groups.append(full)
        for i, param in enumerate(self.params):
            _check_param(i, param)
        self.state: list[State | None] = [None] * sum(len(g["params"]) for g in self.param_groups)

    @property
    def params(self) -> list[np.ndarray]:
        return [p for g in self.param_groups for p in g["params"]]

    def step(self, grads: Sequence[np.ndarray | None]) -> None:
        """Update every parameter in place from its gradient (same order as the params)."""
        if len(grads) != len(self.state):
            raise ValueError(f"step() got {len(grads)} gradients for {len(self.state)} parameters")
        work = []  # (index, param, grad, group): everything checked before anything is written
        i = 0
        for group in self.param_groups:
            for param in group["params"]:
                grad = grads[i]
                if grad is not None:
                    grad = np.asarray(grad)
                    if grad.shape != param.shape:
                        raise ValueError(f"gradient {i} has shape {grad.shape}, its parameter {param.shape}")
                    work.append((i, param, grad.astype(param.dtype, copy=False), group))
                i += 1
        if self.nonfinite != "propagate" and self._nonfinite_stops_step(work):
            return
        results = [(i, param, *self._update(i, param, grad, group)) for i, param, grad, group in work]
        for i, param, new_param, new_state, fresh in results:
            self._write(i, param, new_param, new_state, fresh)

    def _nonfinite_stops_step(self, work: list) -> bool:
        """The ``nonfinite`` policy: True when the step must be skipped (raises for "raise")."""
        bad = next((i for i, _, grad, _ in work if not np.isfinite(grad).all()), None)
        if bad is None:
            return False
        sizes = [len(g["params"]) for g in self.param_groups]
        group = next(g for g in range(len(sizes)) if bad < sum(sizes[: g + 1]))
        bad = f"{bad} (param group {group}, parameter {bad - sum(sizes[:group])})"
        if self.nonfinite == "raise":
            raise FloatingPointError(
                f"{type(self).__name__}: non-finite gradient {bad} (nonfinite='raise'); nothing was changed"
            )
        if self.skipped_steps == 0:
            warnings.warn(
                f"{type(self).__name__}: step skipped, non-finite gradient {bad} (nonfinite='skip'; "
                "further skips are counted in .skipped_steps without a warning)",
                RuntimeWarning,
                stacklevel=3,
            )
        self.skipped_steps += 1
        return True

    def _update(
        self, i: int, param: np.ndarray, grad: np.ndarray, hp: dict[str, Any]
    ) -> tuple[np.ndarray, State, State | None]:
        """The new parameter and state of parameter ``i`` (nothing written; ``fresh``: its new state)."""
        fresh = self.rule.init(param, hp) if self.state[i] is None else None
        current = self.state[i] if fresh is None else fresh
        state = {k: _real(v) if isinstance(v, np.ndarray) else v for k, v in current.items()}
        new_param, new_state = self.rule.update(_real(param), _real(grad), state, hp)
        return new_param, new_state, fresh

    def _write(
        self, i: int, param: np.ndarray, new_param: np.ndarray, new_state: State, fresh: State | None
    ) -> None:
        if fresh is not None:
            self.state[i] = fresh
        _real(param)[...] = new_param
        for key, value in new_state.items():
            old = self.state[i].get(key)
            if isinstance(old, np.ndarray):
                _real(old)[...] = value
            else:
                self.state[i][key] = value

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        return f"adamkit.numpy.{type(self).__name__}({len(self.state)} arrays, {hp})"


class ScheduleFreeAdamW(NumpyOptimizer):
    """Schedule-Free AdamW (Defazio et al., 2024) on NumPy arrays, as in :mod:`adamkit.torch`.

    The arrays hold the gradient point ``y`` while training and the average ``x`` while
    evaluating: call :meth:`train` before training steps and :meth:`eval` before evaluating or
    saving (the optimizer starts in eval mode, as ``schedulefree.AdamWScheduleFree``), and
    :meth:`step` refuses to run outside train mode. Use no schedule; ``warmup_steps`` warms up.

        >>> import numpy as np
        >>> w = np.array([1.0])
        >>> opt = ScheduleFreeAdamW([w], lr=0.1)
        >>> opt.train()
        >>> for _ in range(3):
        ...     opt.step([2 * w])
        >>> opt.eval()   # w now holds the average x
    """

    rule = SCHEDULE_FREE_ADAMW

    def __init__(self, params: Iterable[Any], lr: float | None = None, **hyper: Any) -> None:
        super().__init__(params, lr, **hyper)
        for group in self.param_groups:
            group.setdefault("train_mode", False)

    def train(self) -> None:
        """Put the parameters at the gradient point ``y`` (before training steps)."""
        self._move(True)

    def eval(self) -> None:
        """Put the parameters at the average ``x`` (before evaluating or saving)."""
        self._move(False)

    def _move(self, train: bool) -> None:
        i = 0
        for group in self.param_groups:
            beta1 = group["betas"][0]
            for param in group["params"]:
                state = self.state[i]
                i += 1
                if group["train_mode"] != train and state is not None:
                    to = to_train if train else to_eval
                    _real(param)[...] = to(_real(param), _real(state["z"]), beta1)
            group["train_mode"] = train

    def step(self, grads: Sequence[np.ndarray | None]) -> None:
        if not all(group["train_mode"] for group in self.param_groups):
            raise RuntimeError(
                "ScheduleFreeAdamW.step() outside train mode: call optimizer.train() before training "
                "(and optimizer.eval() before evaluating or saving), as with schedulefree"
            )
        super().step(grads)


def _check_param(i: int, param: Any) -> None:
    """A parameter is a floating or complex NumPy array: it is updated in place, by fractional steps."""
    if not isinstance(param, np.ndarray):
        raise ValueError(f"parameter {i}: expected a NumPy array, got {type(param).__name__}")
    if not (np.issubdtype(param.dtype, np.floating) or np.issubdtype(param.dtype, np.complexfloating)):
        raise ValueError(
            f"parameter {i} has dtype {param.dtype} (must be a floating or complex array: "
            f"an in-place step would truncate; use param.astype(np.float64))"
        )


def _front(rule: Rule) -> type[NumpyOptimizer]:
    doc = f"{rule.title} on NumPy arrays ({rule.paper or 'see adamkit.rules'}).\n\n" + (
        f"Defaults: {dict(rule.defaults)}"
    )
    return type(rule.title, (NumpyOptimizer,), {"rule": rule, "__doc__": doc})


#: One class per rule, named as in torch.optim (``Adam``, ``NAdam``, ``SGD``, ...).
OPTIMIZERS: dict[str, type[NumpyOptimizer]] = {name: _front(r) for name, r in RULES.items()}
OPTIMIZERS[SCHEDULE_FREE_ADAMW.name] = ScheduleFreeAdamW  # with train() and eval()
globals().update({cls.__name__: cls for cls in OPTIMIZERS.values()})

__all__ = ["NumpyOptimizer", "OPTIMIZERS", *(cls.__name__ for cls in OPTIMIZERS.values())]
