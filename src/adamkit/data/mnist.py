"""The four-file layout of MNIST and Fashion-MNIST: images and labels, train and test.

Each split is a pair of gzipped IDX files: ``*-images-idx3-ubyte.gz`` holds a
``uint8`` array ``N x 28 x 28`` and ``*-labels-idx1-ubyte.gz`` a ``uint8``
vector of ``N`` class indices. Both data sets use the same file names, which is
why each lives in its own ``<name>/`` folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from .dataset import DataError
from .idx import read_idx_gz

if TYPE_CHECKING:
    from .registry import DatasetSpec

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
FILE_NAMES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)


def read_split(images_raw: bytes, labels_raw: bytes, spec: DatasetSpec, images_name: str, labels_name: str):
    """``uint8`` images ``N x 1 x H x W`` and ``int64`` labels, checked against ``spec``."""
    images = read_idx_gz(images_raw, images_name)
    labels = read_idx_gz(labels_raw, labels_name)
    _, height, width = spec.input_shape
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (height, width):
        raise DataError(
            f"{images_name}: expected uint8 images N x {height} x {width}, "
            f"found {images.dtype} {' x '.join(map(str, images.shape))}"
        )
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DataError(
            f"{labels_name}: expected {images.shape[0]} labels (one per image), found shape {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= spec.num_classes):
        raise DataError(
            f"{labels_name}: labels outside [0, {spec.num_classes}): {labels.min()}..{labels.max()}"
        )
    return images[:, None, :, :], labels.astype(np.int64)


def decode(spec: DatasetSpec, blobs: Mapping[str, bytes]) -> tuple[np.ndarray, ...]:
    """``(x_train, y_train, x_test, y_test)`` (``uint8`` images) from the four files' bytes, by name."""
    x_train, y_train = read_split(blobs[TRAIN_IMAGES], blobs[TRAIN_LABELS], spec, TRAIN_IMAGES, TRAIN_LABELS)
    x_test, y_test = read_split(blobs[TEST_IMAGES], blobs[TEST_LABELS], spec, TEST_IMAGES, TEST_LABELS)
    return x_train, y_train, x_test, y_test
