"""Is this file the one we know? Its size first, then its hashes or those of its decompressed content.

A file is accepted in three forms: as published (its SHA-256 and MD5), re-compressed
(a gzip file whose decompressed bytes match ``content_sha256``: Debian's copies, a
``gzip -n`` rerun) and decompressed (the plain file, whose own SHA-256 is
``content_sha256``; the IDX reader takes it as it is). A file larger than any of
these forms can be is refused before it is read; the others are hashed from the disk in
chunks, and a gzip file is decompressed as a stream, hashed chunk by chunk, and stopped
once it holds more than ``content_size`` bytes: a wrong file costs a megabyte of memory
whatever its size, and a gzip bomb named like a data file never grows to its full size.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

from .idx import CHUNK_SIZE, GZIP_MAGIC
from .registry import DataFile

#: What a gzip file may add to its content: a header naming the file (or carrying a comment),
#: and 5 bytes per stored block where the data does not compress. A copy larger than its
#: content by more than this is no gzip of it, and is not read.
GZIP_HEADER_ALLOWANCE = 1 << 16
GZIP_GROWTH = 1 / 1000


def largest_copy(file: DataFile) -> int | None:
    """The most bytes an acceptable copy of ``file`` can have; ``None`` where nothing bounds it."""
    if file.content_sha256:
        if file.content_size is None:
            return None
        compressed = file.content_size + int(file.content_size * GZIP_GROWTH) + GZIP_HEADER_ALLOWANCE
        return max(compressed, file.size or 0)
    if file.sha256 or file.md5:
        return file.size  # only the published file passes
    return None


def size_problem(file: DataFile, size: int) -> str | None:
    """``None`` if a file of ``size`` bytes could be ``file``, else one line saying why not."""
    limit = largest_copy(file)
    if limit is None or size <= limit:
        return None
    if file.content_sha256:
        known = f"{file.size} bytes as published, {file.content_size} decompressed"
    else:
        known = f"{file.size} bytes"
    return f"{size} bytes, more than any copy of it can hold ({known}): not read"


def file_digests(path: Path, algorithms: list[str]) -> tuple[dict[str, str], bytes]:
    """The hex digests of the file at ``path``, hashed in chunks, and its first two bytes."""
    digests = {algorithm: hashlib.new(algorithm) for algorithm in algorithms}
    with path.open("rb") as handle:
        start = handle.read(2)
        handle.seek(0)
        while chunk := handle.read(CHUNK_SIZE):
            for digest in digests.values():
                digest.update(chunk)
    return {algorithm: digest.hexdigest() for algorithm, digest in digests.items()}, start


def gunzipped_sha256(path: Path, limit: int | None) -> tuple[str | None, str | None]:
    """``(sha256 of the decompressed bytes, None)``, or ``(None, what is wrong)`` where the stream
    is damaged or holds more than ``limit`` bytes (decompression stops there)."""
    digest, total = hashlib.sha256(), 0
    try:
        with gzip.open(path, "rb") as stream:
            while chunk := stream.read(CHUNK_SIZE):
                total += len(chunk)
                if limit is not None and total > limit:
                    return None, f"decompresses to more than {limit} bytes (stopped there)"
                digest.update(chunk)
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        return None, f"not a complete gzip file ({error})"
    return digest.hexdigest(), None


def check_file(file: DataFile, path: Path) -> str | None:
    """``None`` if ``path`` holds ``file`` in one of its accepted forms (see the module's notes),
    else one line saying what is wrong. A file with no known hash passes here; its reader
    still validates the format. Nothing is held in memory but a chunk; :class:`OSError` if the
    file cannot be read."""
    candidates = (("sha256", file.sha256), ("md5", file.md5))
    published = [(algorithm, value) for algorithm, value in candidates if value]
    if not published and not file.content_sha256:
        return None
    size = path.stat().st_size
    problem = size_problem(file, size)
    if problem:
        return problem
    digests, start = file_digests(path, ["sha256", "md5"] if file.md5 else ["sha256"])
    if published and all(digests[algorithm] == value for algorithm, value in published):
        return None
    if file.content_sha256:
        if start == GZIP_MAGIC:
            content, damage = gunzipped_sha256(path, file.content_size)
            if damage:
                return f"checksum mismatch, and {damage}"
            if content == file.content_sha256:
                return None
        elif digests["sha256"] == file.content_sha256:
            return None  # the decompressed file itself
    expected = f"sha256 {file.sha256}" if file.sha256 else f"md5 {file.md5}"
    if file.size is not None:
        expected = f"{file.size} bytes, {expected}"
    return f"checksum mismatch ({size} bytes, sha256 {digests['sha256']}; expected {expected})"


def read_checked(file: DataFile, path: Path) -> tuple[bytes | None, str | None]:
    """``(the file's bytes, None)`` if ``path`` holds ``file``, else ``(None, what is wrong)``.

    The file is checked first, its size before anything is read, then hashed in chunks: it is
    read whole only once it is known to be the right one.
    """
    try:
        problem = check_file(file, path)
        return (None, problem) if problem else (path.read_bytes(), None)
    except OSError as error:
        return None, f"cannot be read ({error.strerror or error})"
