"""One table of optimizer cases drives every generic test (as torch's OptimizerInfo).

Each family module contributes rows to three lists:

* ``CASES``: (algorithm, kwargs) configurations; ``torch_name`` names the torch.optim
  class that is the oracle (``None`` where torch has no such algorithm).
* ``BAD_INPUTS``: (algorithm, kwargs, word): a ValueError whose message contains
  ``word`` (the argument's name) must be raised.
* ``CONVERGENCE``: per algorithm, the kwargs that reach the minimum of the parabola
  and of Rosenbrock within 10,000 steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    algo: str  # the class name in adamkit.torch / adamkit.numpy
    kwargs: dict[str, Any] = field(default_factory=dict)
    torch_name: str | None = "same"  # torch.optim class; "same" = algo; None = no peer

    @property
    def torch_cls(self) -> str | None:
        return self.algo if self.torch_name == "same" else self.torch_name

    @property
    def id(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in self.kwargs.items())
        return f"{self.algo}({args})"


@dataclass(frozen=True)
class BadInput:
    algo: str
    kwargs: dict[str, Any]
    word: str  # must appear in the error message

    @property
    def id(self) -> str:
        return f"{self.algo}-{self.word}-{self.kwargs}"


@dataclass(frozen=True)
class Convergence:
    algo: str
    parabola: dict[str, Any]  # kwargs for the parabola
    rosenbrock: dict[str, Any]  # kwargs for Rosenbrock


from . import adam, adam_variants, baselines, modern, robust, swats  # noqa: E402

_FAMILIES = (adam, adam_variants, baselines, swats, modern, robust)
CASES: list[Case] = [c for f in _FAMILIES for c in f.CASES]
BAD_INPUTS: list[BadInput] = [b for f in _FAMILIES for b in f.BAD_INPUTS]
CONVERGENCE: list[Convergence] = [c for f in _FAMILIES for c in f.CONVERGENCE]
ALGORITHMS: list[str] = sorted({c.algo for c in CASES})
