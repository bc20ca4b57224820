"""What :func:`adamkit.data.load` returns, and the one error it raises for bad data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class DataError(RuntimeError):
    """A data set's files are missing, corrupt or could not be downloaded.

    A ``RuntimeError`` (not an ``OSError``): the cause is as often a corrupt file
    (checksum mismatch, truncated IDX file, bad pickle) as a missing one. The
    message is one paragraph naming the data set, every place that was searched
    and how to get the data.
    """


class DataWarning(UserWarning):
    """Something is wrong with a copy of a data set that :func:`adamkit.data.load` could work
    around (a corrupt file in the download folder, skipped for another copy or replaced by a
    download): the message names the file and what is wrong with it."""


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """One image classification data set, split three ways, ready for a model.

    ``x_*`` are ``float32`` arrays ``N x C x H x W`` scaled to ``[0, 1]``;
    ``y_*`` are ``int64`` class indices in ``[0, num_classes)``. The test split is
    the data set's own (or a fixed one for digits); the validation split is held
    out of the training set with a seed (see :func:`adamkit.data.load`).

    ``source`` says where the data came from (a folder, or ``scikit-learn``).
    """

    name: str
    title: str
    num_classes: int
    input_shape: tuple[int, int, int]
    class_names: list[str]
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={len(self.y_train)}, val={len(self.y_val)}, "
            f"test={len(self.y_test)}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes}, source={self.source!r})"
        )
