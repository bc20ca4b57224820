"""The IDX file format of MNIST and Fashion-MNIST, read from bytes.

An IDX file is a header and one big-endian array::

    bytes 0-1   0x00 0x00             magic
    byte  2     dtype code            0x08 uint8, 0x09 int8, 0x0B int16,
                                      0x0C int32, 0x0D float32, 0x0E float64
    byte  3     ndim
    then ndim   uint32 big-endian     the size of each dimension
    then        prod(sizes) values    big-endian, row-major

The file size must match the header exactly, so a truncated file (a broken
download, a full disk) is caught here even where no checksum is known. A gzipped
file is decompressed as a stream that stops one byte past the size its header
promises: a gzip bomb never grows beyond what the header says, and a header can
promise no more than deflate could have packed into the compressed bytes.
Format: http://yann.lecun.com/exdb/mnist/ ("THE IDX FILE FORMAT").
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import struct
import zlib
from collections.abc import Iterator
from typing import IO

import numpy as np

from .dataset import DataError

IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"
#: Deflate cannot pack more than 1032 bytes into one (its longest match, 258 bytes, costs at
#: least two bits): more content than this times the compressed size is a lie or a truncation.
DEFLATE_MAX_RATIO = 1032
CHUNK_SIZE = 1 << 20


@contextlib.contextmanager
def gzip_errors(source: str) -> Iterator[None]:
    """Turn a truncated or damaged gzip stream into a :class:`DataError` naming ``source``."""
    try:
        yield
    except EOFError as error:  # the stream stops before its end marker
        raise DataError(f"{source}: truncated gzip file ({error})") from error
    except (OSError, zlib.error) as error:  # bad header, bad CRC, bad deflate data
        raise DataError(f"{source}: not a valid gzip file ({error})") from error


def read_up_to(stream: IO[bytes], count: int) -> bytearray:
    """At most ``count`` bytes of ``stream``, read in chunks (never one buffer of ``count`` up front)."""
    data = bytearray()
    while len(data) < count:
        chunk = stream.read(min(CHUNK_SIZE, count - len(data)))
        if not chunk:
            break
        data += chunk
    return data


def idx_header(data: bytes | bytearray, source: str) -> tuple[tuple[int, ...], np.dtype, int, int]:
    """``(shape, dtype, header size, file size)`` from the start of an IDX file (the file size is the
    one the header promises); :class:`DataError` if it is not one."""
    if len(data) < 4:
        raise DataError(f"{source}: truncated IDX file ({len(data)} bytes, shorter than the 4-byte magic)")
    zero0, zero1, code, ndim = data[:4]
    if zero0 != 0 or zero1 != 0:
        raise DataError(f"{source}: not an IDX file (magic starts {bytes(data[:2]).hex()}, expected 0000)")
    if code not in IDX_DTYPES:
        raise DataError(f"{source}: unknown IDX dtype code 0x{code:02x}")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataError(f"{source}: truncated IDX file ({len(data)} bytes, header needs {header_size})")
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    dtype = IDX_DTYPES[code]
    return shape, dtype, header_size, header_size + math.prod(shape) * dtype.itemsize


def read_idx(data: bytes | bytearray, source: str = "IDX data") -> np.ndarray:
    """Parse one (uncompressed) IDX file into a native-endian array.

    Raises :class:`DataError` naming ``source`` if the magic number or dtype code
    is wrong, or if the file holds fewer or more bytes than its header promises.

    >>> raw = bytes([0, 0, 0x08, 1]) + (3).to_bytes(4, "big") + bytes([7, 8, 9])
    >>> read_idx(raw).tolist()
    [7, 8, 9]
    """
    shape, dtype, header_size, expected = idx_header(data, source)
    if len(data) != expected:
        problem = "truncated IDX file" if len(data) < expected else "IDX file with trailing bytes"
        raise DataError(
            f"{source}: {problem} (the header promises shape {shape}, {expected} bytes; "
            f"the file has {len(data)})"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx_gz(raw: bytes, source: str) -> np.ndarray:
    """One gzipped IDX file (a plain IDX file is accepted too) as an array, decompressed no
    further than its header's size (see the module's notes)."""
    if raw[:2] != GZIP_MAGIC:
        return read_idx(raw, source)
    with gzip_errors(source), gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
        data = read_up_to(stream, 4)
        dimensions = data[3] if len(data) == 4 else 0
        data += read_up_to(stream, 4 * dimensions)
        shape, _, _, expected = idx_header(data, source)
        if expected > DEFLATE_MAX_RATIO * len(raw):
            raise DataError(
                f"{source}: truncated IDX file (the header promises shape {shape}, {expected} bytes; "
                f"{len(raw)} bytes of gzip cannot hold more than {DEFLATE_MAX_RATIO * len(raw)})"
            )
        data += read_up_to(stream, expected + 1 - len(data))  # one byte more tells there is more
    if len(data) > expected:
        raise DataError(
            f"{source}: IDX file with trailing bytes (the header promises shape {shape}, {expected} "
            "bytes; decompression stopped there)"
        )
    return read_idx(data, source)
