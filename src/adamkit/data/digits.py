"""scikit-learn's 8 x 8 handwritten digits: small, embedded, no download.

1,797 images of the digits 0-9 (the UCI "optical recognition of handwritten
digits" test set), each pixel a count from 0 to 16. There is no official test
split, so a fixed, stratified 20 % is held out with :data:`TEST_SEED`: the test
set is the same whatever seed :func:`adamkit.data.load` is given, and results
for different seeds stay comparable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from .dataset import DataError
from .splits import stratified_holdout

if TYPE_CHECKING:
    from .registry import DatasetSpec

TEST_FRACTION = 0.2
TEST_SEED = 0


def decode(spec: DatasetSpec, blobs: Mapping[str, bytes]) -> tuple[np.ndarray, ...]:
    """``(x_train, y_train, x_test, y_test)``, pixels 0..16 as ``uint8``; ``blobs`` is empty."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise DataError(
            "the digits data set ships with scikit-learn, which is not installed "
            "(pip install scikit-learn, or adamkit[lab])"
        ) from error
    pixels, labels = load_digits(return_X_y=True)
    x = pixels.astype(np.uint8).reshape(-1, *spec.input_shape)  # whole counts 0..16
    y = labels.astype(np.int64)
    train, test = stratified_holdout(y, TEST_FRACTION, TEST_SEED)
    return x[train], y[train], x[test], y[test]
