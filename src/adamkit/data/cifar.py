"""The CIFAR-10 "python version" archive: a tar.gz of pickled batches.

``cifar-10-python.tar.gz`` holds ``cifar-10-batches-py/`` with ``data_batch_1``
... ``data_batch_5`` (50,000 training images) and ``test_batch`` (10,000). Each
batch is a pickle (written by Python 2) of a dict with ``b"data"``, a ``uint8``
array ``N x 3072`` (per row: 1024 red, then 1024 green, then 1024 blue values,
each a 32 x 32 image in row-major order) and ``b"labels"``, a list of ``N``
class indices. Format: https://www.cs.toronto.edu/~kriz/cifar.html

The archive is read in memory (nothing is extracted to disk), and the pickles
are loaded by an unpickler that only resolves the few globals a NumPy array
needs: a pickle can otherwise run arbitrary code. It is decompressed as a stream
that stops once every batch is read, and never beyond :data:`MAX_ARCHIVE_BYTES`
(a batch beyond :data:`MAX_BATCH_BYTES` is not read at all), so a damaged or
hostile archive costs no more memory than the real one.
"""

from __future__ import annotations

import codecs
import gzip
import io
import pickle
import tarfile
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .dataset import DataError

if TYPE_CHECKING:
    from .registry import DatasetSpec

ARCHIVE = "cifar-10-python.tar.gz"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
#: A batch pickle holds 10,000 images of 3,072 bytes, their labels and file names (a little over
#: 31 MB in the real archive, whose six batches decompress to about 186 MB).
MAX_BATCH_BYTES = 40_000_000
MAX_ARCHIVE_BYTES = 256_000_000

# The functions NumPy's own pickles name, taken from NumPy itself so that both the
# old "numpy.core.multiarray" and the new "numpy._core.multiarray" spellings resolve.
_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(0))[0]
_SCALAR = np.float64(0).__reduce__()[0]
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.multiarray", "scalar"): _SCALAR,
    ("numpy._core.multiarray", "scalar"): _SCALAR,
    # Python 3 writes bytes in protocol 2 as _codecs.encode(text, "latin1").
    ("_codecs", "encode"): codecs.encode,
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain containers and NumPy arrays; refuses every other global."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a data batch") from None


def read_batch(payload: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch as ``(uint8 images N x 3 x 32 x 32, int64 labels N)``."""
    try:
        # encoding="bytes": the batches were pickled by Python 2, their str keys arrive as bytes.
        batch = _ArrayOnlyUnpickler(io.BytesIO(payload), encoding="bytes").load()
    except Exception as error:  # any unpickling failure means a corrupt or hostile file
        raise DataError(f"{source}: not a valid CIFAR batch pickle ({error})") from error
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataError(f"{source}: not a CIFAR batch (expected a dict with b'data' and b'labels')")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{source}: expected uint8 data N x 3072, found {data.dtype} {data.shape}")
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"{source}: expected {data.shape[0]} integer labels, found {labels.dtype} {labels.shape}"
        )
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


class _BoundedReader(io.RawIOBase):
    """A stream that raises :class:`DataError` once more than ``limit`` bytes were read from it."""

    def __init__(self, stream: io.BufferedIOBase, limit: int, source: str) -> None:
        self._stream, self._limit, self._left, self._source = stream, limit, limit, source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._stream.readinto(memoryview(buffer)[: self._left + 1])
        self._left -= count
        if self._left < 0:
            raise DataError(f"{self._source}: decompresses to more than {self._limit} bytes (stopped there)")
        return count


def read_archive(raw: bytes, source: str = ARCHIVE) -> dict[str, bytes]:
    """The batch files inside the tar.gz, by base name (read in memory, never extracted)."""
    wanted = set(TRAIN_BATCHES) | {TEST_BATCH}
    members: dict[str, bytes] = {}
    try:
        stream = _BoundedReader(gzip.GzipFile(fileobj=io.BytesIO(raw)), MAX_ARCHIVE_BYTES, source)
        with tarfile.open(fileobj=io.BufferedReader(stream), mode="r|") as archive:
            for member in archive:
                base = member.name.rsplit("/", 1)[-1]
                if not member.isfile() or base not in wanted:
                    continue
                if member.size > MAX_BATCH_BYTES:
                    raise DataError(
                        f"{source}: {member.name} is {member.size} bytes, more than a CIFAR batch can be "
                        f"({MAX_BATCH_BYTES}): not read"
                    )
                members[base] = archive.extractfile(member).read()
                if members.keys() == wanted:
                    break  # the rest (a readme) is not decompressed
    except EOFError as error:
        raise DataError(f"{source}: truncated archive ({error})") from error
    except (tarfile.TarError, OSError, zlib.error) as error:
        raise DataError(f"{source}: not a valid tar.gz archive ({error})") from error
    missing = sorted(wanted - members.keys())
    if missing:
        raise DataError(f"{source}: the archive lacks {', '.join(missing)}")
    return members


def decode(spec: DatasetSpec, blobs: Mapping[str, bytes]) -> tuple[np.ndarray, ...]:
    """``(x_train, y_train, x_test, y_test)`` (``uint8`` images) from the archive's bytes."""
    batches = read_archive(blobs[ARCHIVE])
    train = [read_batch(batches[name], f"{ARCHIVE}:{name}") for name in TRAIN_BATCHES]
    x_test, y_test = read_batch(batches[TEST_BATCH], f"{ARCHIVE}:{TEST_BATCH}")
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    for labels, name in ((y_train, "training"), (y_test, "test")):
        if labels.size and (labels.min() < 0 or labels.max() >= spec.num_classes):
            raise DataError(f"{ARCHIVE}: {name} labels outside [0, {spec.num_classes})")
    return x_train, y_train, x_test, y_test
