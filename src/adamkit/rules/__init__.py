"""The math of every algorithm, written once (see :mod:`adamkit.rules.spec`).

Each rule is a :class:`~adamkit.rules.spec.Rule`: hyperparameters with torch.optim's
names and defaults, their allowed ranges, the initial state, and a pure update.
``RULES`` maps registry names to rules; each module holds one algorithm.
"""

from .adabelief import ADABELIEF
from .adadelta import ADADELTA
from .adafactor import ADAFACTOR
from .adagrad import ADAGRAD
from .adam import ADAM, ADAMW
from .adamax import ADAMAX
from .ademamix import ADEMAMIX
from .lamb import LAMB
from .lion import LION
from .nadam import NADAM
from .radam import RADAM
from .rmsprop import RMSPROP
from .schedulefree import SCHEDULE_FREE_ADAMW
from .sgd import SGD
from .spec import Check, Rule, namespace
from .swats import SWATS

RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        *(ADAM, ADAMW, ADAMAX, NADAM, RADAM, SGD, RMSPROP, ADAGRAD, ADADELTA, SWATS),
        # the modern family
        *(LION, ADEMAMIX, ADABELIEF, LAMB, ADAFACTOR, SCHEDULE_FREE_ADAMW),
    )
}


def get(name: str) -> Rule:
    """The rule registered as ``name`` (case-insensitive)."""
    try:
        return RULES[name.lower()]
    except KeyError:
        raise ValueError(f"Unknown algorithm {name!r}; known: {', '.join(sorted(RULES))}") from None


__all__ = ["RULES", "Check", "Rule", "get", "namespace"]
