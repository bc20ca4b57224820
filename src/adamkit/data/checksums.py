"""Is this file the one we know? Checksums of the file, or of its decompressed content."""

from __future__ import annotations

import gzip
import hashlib
import zlib

from .idx import GZIP_MAGIC
from .registry import DataFile


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_file(file: DataFile, raw: bytes) -> str | None:
    """``None`` if ``raw`` is ``file`` as known, else one line saying what is wrong.

    Passes when every published hash (SHA-256, MD5) matches, or when ``raw`` is a
    gzip file whose decompressed bytes match ``file.content_sha256``: the same data
    compressed again with another header (Debian's copies, a ``gzip -n`` rerun).
    A file with no known hash passes here; its reader still validates the format.
    """
    candidates = (("sha256", file.sha256), ("md5", file.md5))
    published = [(algorithm, value) for algorithm, value in candidates if value]
    if not published and not file.content_sha256:
        return None
    if published and all(hashlib.new(algorithm, raw).hexdigest() == value for algorithm, value in published):
        return None
    if file.content_sha256 and raw[:2] == GZIP_MAGIC:
        try:
            if sha256_hex(gzip.decompress(raw)) == file.content_sha256:
                return None
        except (EOFError, OSError, zlib.error) as error:
            return f"checksum mismatch, and not a complete gzip file ({error})"
    expected = f"sha256 {file.sha256}" if file.sha256 else f"md5 {file.md5}"
    if file.size is not None:
        expected = f"{file.size} bytes, {expected}"
    return f"checksum mismatch ({len(raw)} bytes, sha256 {sha256_hex(raw)}; expected {expected})"
