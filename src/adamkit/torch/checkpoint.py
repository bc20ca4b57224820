"""Checkpoints of a model and its optimizer in one file, written whole or not at all.

:func:`save_checkpoint` writes through :func:`adamkit.atomic.atomic_open` (a temporary file beside
the target, flushed to disk, renamed over it): a process killed during the save leaves the last
good checkpoint in place, never a truncated one. :func:`load_checkpoint` checks the model's keys and
shapes and the optimizer's state (:mod:`.state_check`) before it loads either, so a checkpoint that
does not fit changes neither.

Example:
    >>> import tempfile, pathlib, torch, adamkit.torch as ak
    >>> model = torch.nn.Linear(3, 1)
    >>> opt = ak.AdamW(model.parameters(), lr=1e-2)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.pt"
    >>> ak.save_checkpoint(path, model=model, optimizer=opt, epoch=3)
    >>> ak.load_checkpoint(path, model=model, optimizer=opt)
    {'epoch': 3}
"""

from __future__ import annotations

import os
from typing import Any

import torch

from ..atomic import atomic_open
from . import state_check
from .optimizer import STATE_SCHEMA

FORMAT = "adamkit-checkpoint"
VERSION = 1


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: torch.nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    **extra: Any,
) -> None:
    """Save the state dicts of ``model`` and ``optimizer``, and ``extra`` (epoch, ...), to ``path``.

    ``extra`` values should be what ``torch.load(weights_only=True)`` reads back: numbers, strings,
    tensors, lists and dicts of them (a scheduler's ``state_dict()``).
    """
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model": None if model is None else model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "extra": extra,
    }
    with atomic_open(path, "wb") as handle:
        torch.save(payload, handle)


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: torch.nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: Any = None,
    weights_only: bool = True,
) -> dict[str, Any]:
    """Load a :func:`save_checkpoint` file into ``model`` and ``optimizer``; returns its ``extra``.

    Everything is checked before anything is loaded: a ``ValueError`` (a file of another kind, no
    state for a model or optimizer given, missing, unexpected or mis-shaped model entries, an
    optimizer state this optimizer refuses) leaves both as they were.
    """
    payload = torch.load(path, map_location=map_location, weights_only=weights_only)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{os.fspath(path)!r} is not an adamkit checkpoint (written by save_checkpoint)")
    if payload.get("version", 1) > VERSION:
        raise ValueError(
            f"{os.fspath(path)!r} is a version {payload['version']} checkpoint; this adamkit reads up to "
            f"version {VERSION}: upgrade adamkit"
        )
    for name, target in (("model", model), ("optimizer", optimizer)):
        if target is not None and payload.get(name) is None:
            raise ValueError(f"{os.fspath(path)!r} holds no {name} state (it was saved without {name}=)")
    if model is not None:
        check_model_state(model, payload["model"])
    if optimizer is not None and hasattr(optimizer, "rule"):  # adamkit's: checked as its load will
        state_check.check_state_dict(optimizer, payload["optimizer"], STATE_SCHEMA)
    if model is not None:
        model.load_state_dict(payload["model"])
    if optimizer is not None:
        optimizer.load_state_dict(payload["optimizer"])
    return payload.get("extra", {})


def check_model_state(model: torch.nn.Module, saved: dict[str, Any]) -> None:
    """Raise ``ValueError`` unless ``saved`` has exactly ``model``'s entries, with their shapes.

    ``Module.load_state_dict`` copies what fits before it reports what does not; checking first
    keeps a failed load from leaving the model half loaded.
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(saved))
    unexpected = sorted(set(saved) - set(own))
    if missing or unexpected:
        raise ValueError(
            f"the checkpoint's model state does not fit this model: missing {missing}, "
            f"unexpected {unexpected}"
        )
    for key, value in own.items():
        other = saved[key]
        if isinstance(value, torch.Tensor) and (
            not isinstance(other, torch.Tensor) or other.shape != value.shape
        ):
            got = tuple(other.shape) if isinstance(other, torch.Tensor) else type(other).__name__
            raise ValueError(f"the checkpoint's {key!r} has shape {got}, this model's {tuple(value.shape)}")
