"""A rich progress bar for pooch downloads (pooch's own bar would need tqdm)."""

from __future__ import annotations


class DownloadBar:
    """The tqdm-like object pooch's ``HTTPDownloader(progressbar=...)`` drives.

    pooch sets ``total``, calls ``update(chunk_size)`` per chunk, then ``reset()``,
    ``update(total)`` and ``close()``. The bar starts when ``total`` is set and
    draws on stderr; ``close`` is safe to call twice (pooch skips it when a
    download fails, so the caller closes it too).
    """

    def __init__(self, description: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn(description),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._task = None
        self._total = 0
        self.n = 0

    @property
    def total(self) -> int:
        return self._total

    @total.setter
    def total(self, value: int) -> None:
        self._total = int(value)
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task("download", total=self._total or None)
        else:
            self._progress.update(self._task, total=self._total or None)

    def update(self, count: int) -> None:
        self.n += count
        done = min(self.n, self._total) if self._total else self.n
        if self._task is not None:
            self._progress.update(self._task, completed=done)

    def reset(self) -> None:
        self.n = 0
        self.update(0)

    def close(self) -> None:
        self._progress.stop()
