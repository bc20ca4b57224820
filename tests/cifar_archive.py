"""Small CIFAR-10 archives in the real format, written without adamkit's reader.

``cifar-10-python.tar.gz`` is a tar.gz of ``cifar-10-batches-py/<batch>`` pickles (protocol 2,
as Python 2 wrote them): a dict with ``b"data"``, uint8 ``N x 3072`` rows (the 1024 red, then
green, then blue values of a 32 x 32 image, row-major), and ``b"labels"``, a list of ``N`` ints.
Format: https://www.cs.toronto.edu/~kriz/cifar.html. Used by ``test_data.py`` (the reader) and
``test_lab_claims.py`` (the generalisation claim on CIFAR-10).
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

ARCHIVE = "cifar-10-python.tar.gz"


def cifar_batch(count: int, seed: int) -> tuple[np.ndarray, list[int]]:
    """Random images and random labels."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(count, 3072), dtype=np.uint8), rng.integers(0, 10, count).tolist()


def learnable_cifar_batch(count: int, seed: int) -> tuple[np.ndarray, list[int]]:
    """Noisy images whose class is drawn in them: class k brightens colour plane ``k % 3`` in
    quadrant ``k // 3`` of the 2 x 2 (class 9: red in the fourth), a pattern a CNN learns in a
    few epochs, where the random labels of :func:`cifar_batch` leave it at chance."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 100, size=(count, 3, 32, 32), dtype=np.uint8)
    for image, label in zip(images, labels, strict=True):
        rows, columns = divmod(label // 3, 2)
        image[label % 3, rows * 16 : rows * 16 + 16, columns * 16 : columns * 16 + 16] += 150
    return images.reshape(count, 3072), labels.tolist()


def write_cifar(path: Path, batches: dict[str, bytes | tuple], gz: bool = True) -> None:
    """A tar(.gz) like cifar-10-python.tar.gz: cifar-10-batches-py/<batch> pickles (protocol 2).

    A batch is ``(data, labels)``, pickled here, or the bytes of a file to store as it is."""
    with tarfile.open(path, "w:gz" if gz else "w") as archive:
        for name, batch in batches.items():
            if isinstance(batch, tuple):
                data, labels = batch
                batch = pickle.dumps(
                    {b"batch_label": name.encode(), b"labels": labels, b"data": data, b"filenames": []},
                    protocol=2,
                )
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(batch)
            archive.addfile(info, io.BytesIO(batch))


def cifar_batches(per_batch: int = 3, test: int = 4, make=cifar_batch) -> dict[str, tuple]:
    """The five training batches and the test batch, ``make(count, seed)`` each."""
    batches = {f"data_batch_{i}": make(per_batch, seed=i) for i in range(1, 6)}
    batches["test_batch"] = make(test, seed=9)
    return batches
