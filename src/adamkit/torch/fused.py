"""Registry of fused engines (one pass over memory per step). Empty until kernels land."""

from __future__ import annotations

from ..rules.spec import Rule
from .engine import Engine


def engine_for(rule: Rule) -> Engine | None:
    """The fused engine for ``rule`` on this machine, or None to use the reference engine."""
    return None
