"""Holding out a validation set: stratified, deterministic for a seed."""

from __future__ import annotations

import numpy as np


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split sample indices into ``(kept, held_out)``, each class in proportion.

    From every class ``c`` with ``n_c`` samples, ``round(fraction * n_c)`` samples
    chosen by a permutation from ``numpy.random.default_rng(seed)`` are held out,
    so the held-out set has the class balance of the whole (a plain permutation
    would leave small classes over- or under-represented). Both index arrays are
    sorted, disjoint, and together cover ``range(len(labels))``; the same
    ``labels``, ``fraction`` and ``seed`` always give the same split.

    >>> kept, held = stratified_holdout(np.array([0, 0, 0, 0, 1, 1, 1, 1]), 0.25, seed=0)
    >>> len(kept), len(held)
    (6, 2)
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"Invalid validation fraction: {fraction} (must be in [0, 1))")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    held_parts = [np.empty(0, dtype=np.int64)]
    for label in np.unique(labels):  # sorted classes: the draw order is fixed
        members = np.flatnonzero(labels == label)
        count = int(round(fraction * members.size))
        held_parts.append(rng.permutation(members)[:count])
    held = np.sort(np.concatenate(held_parts))
    keep_mask = np.ones(labels.size, dtype=bool)
    keep_mask[held] = False
    return np.flatnonzero(keep_mask), held
