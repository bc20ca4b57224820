"""Downloading a data set's files through pooch: checksum first, then into place.

pooch writes each download to a temporary file in the target folder, checks its
hash, and only then moves it to its name; a failed or interrupted download, or
one with the wrong hash, leaves no file behind. Mirrors are tried in order.
``file://`` mirrors are copied (a local or network disk, and the tests).
"""

from __future__ import annotations

import shutil
import urllib.parse
import urllib.request
from pathlib import Path

from .checksums import check_file
from .dataset import DataError
from .progress import DownloadBar
from .registry import DataFile, DatasetSpec

CHUNK_SIZE = 1 << 16


def copy_file_url(url: str, output_file: str, pooch_instance: object = None) -> None:
    """A pooch downloader for ``file://`` URLs: copy the file."""
    path = urllib.request.url2pathname(urllib.parse.urlparse(url).path)
    shutil.copyfile(path, output_file)


def fetch(file: DataFile, mirrors: tuple[str, ...], folder: Path) -> Path:
    """Download ``file`` into ``folder`` from the first mirror that serves it with the right hash."""
    try:
        import pooch  # only here: loading files already on disk never needs it
    except ImportError as error:
        raise DataError(
            f"downloading {file.name} needs pooch, which is not installed "
            "(pip install pooch, or adamkit[lab])"
        ) from error

    failures = []
    for mirror in mirrors:
        url = mirror + file.name
        bar = None
        if url.startswith("file://"):
            downloader = copy_file_url
        else:
            bar = DownloadBar(file.name)
            downloader = pooch.HTTPDownloader(progressbar=bar, chunk_size=CHUNK_SIZE)
        try:
            path = pooch.retrieve(
                url, known_hash=file.known_hash, fname=file.name, path=folder, downloader=downloader
            )
            return Path(path)
        except Exception as error:  # whatever went wrong with this mirror, the next may work
            failures.append(f"{url} failed ({' '.join(str(error).split())})")
        finally:
            if bar is not None:
                bar.close()
    reasons = "; ".join(failures) or "no download address known"
    raise DataError(f"could not download {file.name}: {reasons}")


def download_missing(spec: DatasetSpec, folder: Path) -> None:
    """Fetch each file of ``spec`` that ``folder`` lacks or holds corrupt.

    Raises :class:`DataError` (a one-line reason) if a file cannot be had; folders
    this call created and left empty are removed again.
    """
    created = [parent for parent in (folder, *folder.parents) if not parent.exists()]
    try:
        for file in spec.files:
            path = folder / file.name
            if _valid(file, path):
                continue  # valid already (maybe a re-compressed copy: keep it)
            fetch(file, spec.mirrors, folder)
    except BaseException:
        for parent in created:  # deepest first
            if parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
        raise


def _valid(file: DataFile, path: Path) -> bool:
    try:
        return path.is_file() and check_file(file, path) is None
    except OSError:  # unreadable: download over it
        return False
