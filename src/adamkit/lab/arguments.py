"""The lab's command-line vocabulary: argparse types that reject bad values with a one-line message.

Each function takes the text of one argument and returns its value, or raises
``argparse.ArgumentTypeError`` naming the problem; argparse then prints
``adamkit compare: error: argument --epochs: -1 is not a positive integer`` and exits 2.
:class:`LabError` is for the problems found while running (the CLI prints its message on
one line and exits 1).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

from .. import schedules


class LabError(Exception):
    """A problem with what the user asked for, found while running it (printed on one line)."""


def _number(text: str, kind: type) -> float | int:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (epochs, seeds, batch size)."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (a seed)."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative (must be >= 0)")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (a learning rate)."""
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def fraction(text: str) -> float:
    """A number in [0, 1) (the validation fraction)."""
    value = _number(text, float)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not in [0, 1)")
    return value


def listed_names(text: str, known: Sequence[str], what: str = "optimizer") -> list[str]:
    """``text``, a comma-separated list of names, each one of ``known`` and none twice, as a list."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"no {what} named")
    for name in names:
        if name not in known:
            raise argparse.ArgumentTypeError(f"unknown {what} {name!r} (known: {', '.join(known)})")
    if len(set(names)) != len(names):
        article = "an" if what[0] in "aeiou" else "a"
        raise argparse.ArgumentTypeError(f"{article} {what} is named twice in {text!r}")
    return names


def optimizer_names(text: str) -> list[str]:
    """A comma-separated list of the lab's optimizer names (``adam,sgd,torch-adam``)."""
    from .optimizers import known_names

    return listed_names(text, known_names())


def dataset_name(text: str) -> str:
    """One of :data:`adamkit.data.DATASETS`."""
    from ..data import DATASETS

    name = text.strip().lower()
    if name not in DATASETS:
        raise argparse.ArgumentTypeError(f"unknown data set {text!r} (known: {', '.join(DATASETS)})")
    return name


def model_name(text: str) -> str:
    """One of :data:`adamkit.lab.models.MODELS`."""
    from .models import MODELS

    if text not in MODELS:
        raise argparse.ArgumentTypeError(f"unknown model {text!r} (known: {', '.join(MODELS)})")
    return text


def schedule_spec(text: str) -> str:
    """A :func:`adamkit.schedules.parse` spec, checked now (its counts are resolved per run)."""
    try:
        schedules.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text.strip().lower()
