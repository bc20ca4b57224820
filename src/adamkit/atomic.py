"""Files that are either the old version or the new one, never half written.

A kill or a full disk during a save must not leave a truncated file in place of the last good
one (a checkpoint, a run's results, a report page). :func:`atomic_open` writes to a temporary file
beside the target, flushes it to the disk, then renames it over the target (``os.replace`` is
atomic on POSIX and Windows for paths on one file system) and flushes the folder's entry.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (a no-op where folders cannot be opened, as on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open ``path`` for writing so that it appears whole, or not at all.

    ``mode`` is ``"w"`` or ``"wb"`` (``kwargs`` go to :func:`open`, e.g. ``newline=""``). On an
    exception inside the block the temporary file is removed and ``path`` keeps its old contents.
    The new file gets the permissions a plain ``open`` would give it (the umask's).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode {mode!r} is not supported (use 'w' or 'wb')")
    target = Path(path)
    folder = target.parent
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_folder(folder)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """``Path.write_text``, atomically."""
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """``Path.write_bytes``, atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)
