"""What every claim experiment shares: the scale it runs at, its verdict, and small helpers.

An experiment is a module with::

    KEY: str            # its id, the anchor on the page and the plot's name (claim-KEY.png)
    TITLE: str          # the claim in a few words
    SENTENCE: str       # the article's sentence, verbatim
    SOURCE: str         # the article's file in the references
    EXPERIMENT: str     # what is run, in words
    THRESHOLDS: dict    # the numbers the verdict compares against (shown on the page)
    def measure(scale: Scale, shared: dict) -> dict    # runs it; plain JSON-ready numbers and series
    def verdict(measured: dict) -> Verdict             # a pure function of those numbers
    def plot(measured: dict, path: Path) -> Path

so that a verdict is never written in: feed :func:`verdict` numbers that contradict the claim
and it says so (``tests/test_lab_claims.py`` does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

HOLDS = "holds here"
DOES_NOT_HOLD = "does not hold here"
DEPENDS = "depends"  # always followed by "on ...": the condition the answer turns on


@dataclass(frozen=True)
class Verdict:
    """The answer, why (a sentence with the numbers), and the numbers themselves."""

    outcome: str  # HOLDS, DOES_NOT_HOLD, or "depends on ..."
    reason: str
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``holds``, ``fails`` or ``depends``: the page's colour for it."""
        if self.outcome == HOLDS:
            return "holds"
        return "fails" if self.outcome == DOES_NOT_HOLD else "depends"


@dataclass(frozen=True)
class Scale:
    """How big the experiments are: ``full`` (Fashion-MNIST), ``quick`` (digits) or ``tiny`` (tests)."""

    name: str
    data: str  # the image data set of the training experiments
    train_limit: int | None  # first N training examples only (None: all)
    epochs: int  # per run of the tunability and generalisation experiments
    seeds: int  # final seeds per optimizer
    grid: tuple[float, ...]  # learning rates of the tunability sweep
    steps: int  # optimizer steps of the step-by-step experiments (bias correction, speed)
    counterexample_steps: int  # steps on Reddi et al.'s online problem
    cnn_epochs: int  # generalisation experiment
    sparse_documents: int  # synthetic bag-of-words set size
    cifar10: bool = False  # the generalisation experiment also on CIFAR-10, when its files are found


SCALES: dict[str, Scale] = {
    "full": Scale(
        "full",
        "fashion-mnist",
        None,
        5,
        3,
        (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0),
        1000,
        100_000,
        15,
        20_000,
        cifar10=True,
    ),
    "quick": Scale(
        "quick",
        "digits",
        None,
        8,
        3,
        (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0),
        400,
        10_000,
        15,
        4000,
    ),
    # quick stays on the embedded digits (a few minutes, whatever the machine holds); tiny reads
    # CIFAR-10 where its files are found, so that tests can run the experiment on a small archive
    "tiny": Scale("tiny", "digits", 300, 2, 2, (1e-3, 1e-2, 1e-1, 1.0), 60, 3000, 2, 600, cifar10=True),
}


def finite_or_inf(value: float | None) -> float:
    """A diverged measurement (NaN, or None as claims.json stores it) counts as infinitely far."""
    return math.inf if value is None or math.isnan(value) else value


def fmt(value: float, digits: int = 3) -> str:
    """A number for a sentence: 3 significant digits, ``inf``/``nan`` as words."""
    if isinstance(value, float) and not math.isfinite(value):
        return "diverged" if math.isnan(value) else "inf"
    return f"{value:.{digits}g}"
