"""Rows of the case table for this family (see tests/cases/__init__.py)."""

from . import BadInput, Case, Convergence

CASES: list[Case] = []
BAD_INPUTS: list[BadInput] = []
CONVERGENCE: list[Convergence] = []
