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
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .rules import RULES
from .rules.spec import Rule, State


def _real(a: np.ndarray) -> np.ndarray:
    """Complex arrays are updated as pairs of reals, as torch.optim does."""
    return a.view(a.real.dtype) if np.iscomplexobj(a) else a


class NumpyOptimizer:
    """Executes a rule over lists of NumPy arrays. Subclasses set ``rule``."""

    rule: Rule

    def __init__(self, params: Iterable[Any], lr: float | None = None, **hyper: Any) -> None:
        if lr is not None:
            hyper["lr"] = lr
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
        self.state: list[State | None] = [None] * sum(len(g["params"]) for g in self.param_groups)

    @property
    def params(self) -> list[np.ndarray]:
        return [p for g in self.param_groups for p in g["params"]]

    def step(self, grads: Sequence[np.ndarray | None]) -> None:
        """Update every parameter in place from its gradient (same order as the params)."""
        if len(grads) != len(self.state):
            raise ValueError(f"step() got {len(grads)} gradients for {len(self.state)} parameters")
        i = 0
        for group in self.param_groups:
            for param in group["params"]:
                grad = grads[i]
                if grad is not None:
                    if grad.shape != param.shape:
                        raise ValueError(f"gradient {i} has shape {grad.shape}, its parameter {param.shape}")
                    self._update(i, param, np.asarray(grad, dtype=param.dtype), group)
                i += 1

    def _update(self, i: int, param: np.ndarray, grad: np.ndarray, hp: dict[str, Any]) -> None:
        if self.state[i] is None:
            self.state[i] = self.rule.init(param, hp)
        state = {k: _real(v) if isinstance(v, np.ndarray) else v for k, v in self.state[i].items()}
        new_param, new_state = self.rule.update(_real(param), _real(grad), state, hp)
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


def _front(rule: Rule) -> type[NumpyOptimizer]:
    doc = f"{rule.title} on NumPy arrays ({rule.paper or 'see adamkit.rules'}).\n\n" + (
        f"Defaults: {dict(rule.defaults)}"
    )
    return type(rule.title, (NumpyOptimizer,), {"rule": rule, "__doc__": doc})


#: One class per rule, named as in torch.optim (``Adam``, ``NAdam``, ``SGD``, ...).
OPTIMIZERS: dict[str, type[NumpyOptimizer]] = {name: _front(r) for name, r in RULES.items()}
globals().update({cls.__name__: cls for cls in OPTIMIZERS.values()})

__all__ = ["NumpyOptimizer", "OPTIMIZERS", *(cls.__name__ for cls in OPTIMIZERS.values())]
