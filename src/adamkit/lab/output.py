"""Where the lab writes: folders checked before any work, used report folders refused, files written whole.

A comparison trains for minutes before it writes its report, so a ``--out`` that is a file,
or a folder that cannot be written, is refused first (:func:`check_writable`). A report folder
that already holds files is refused too (:func:`prepare_report_folder`): a rerun would mix the
old runs with the new ones. ``--overwrite`` empties it first, but only when everything in it
is something a report writes, so that a mistyped ``--out`` never deletes anybody's files.
Every file is written through :mod:`adamkit.atomic`, the page last: an interrupted run leaves
whole files, and no ``report.html`` that describes runs other than those beside it.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..atomic import atomic_open
from .arguments import LabError

#: What a report folder holds (``runs/`` holds one ``.json`` and one ``.csv`` per run).
REPORT_PAGE = "report.html"
PLOTS = ("loss.png", "accuracy.png", "test_accuracy.png")
SUMMARY_FILES = ("summary.csv", "summary.json")
#: ``compare --tune``'s files: the sensitivity curves and the search's numbers
TUNING_FILES = ("sensitivity.png", "tuning.json")
#: ``adamkit claims``'s files: its numbers, and one plot per claim named ``claim-<key>.png``
CLAIMS_FILES = ("claims.json",)
CLAIM_PLOT_PREFIX = "claim-"
REPORT_FILES = frozenset({REPORT_PAGE, *PLOTS, *SUMMARY_FILES, *TUNING_FILES, *CLAIMS_FILES})
RUNS_FOLDER = "runs"
RUN_SUFFIXES = (".json", ".csv")


def check_writable(folder: Path, option: str = "--out") -> None:
    """Raise :class:`LabError` unless files can be written in ``folder`` (created later if missing).

    Writes nothing but a temporary file, at once removed, in ``folder`` or its nearest existing parent.
    """
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "is a file" if existing == folder else f"is inside {existing}, which is a file"
        raise LabError(f"{option} {folder} {what}, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise LabError(f"{option} {folder}: cannot write in {existing} ({error.strerror or error})") from None


def _is_temporary(path: Path) -> bool:
    """A file :func:`adamkit.atomic.atomic_open` was writing when it was interrupted."""
    return path.name.startswith(".") and path.name.endswith(".tmp") and path.is_file()


def _is_report_file(name: str) -> bool:
    return name in REPORT_FILES or (name.startswith(CLAIM_PLOT_PREFIX) and name.endswith(".png"))


def foreign_entries(folder: Path) -> list[str]:
    """What in ``folder`` a report does not write (relative names, sorted)."""
    foreign = []
    for entry in folder.iterdir():
        if entry.is_symlink():
            foreign.append(entry.name)
        elif entry.name == RUNS_FOLDER and entry.is_dir():
            foreign += [
                f"{RUNS_FOLDER}/{run.name}"
                for run in entry.iterdir()
                if run.is_symlink()
                or not (run.is_file() and (run.suffix in RUN_SUFFIXES or _is_temporary(run)))
            ]
        elif not ((_is_report_file(entry.name) and entry.is_file()) or _is_temporary(entry)):
            foreign.append(entry.name)
    return sorted(foreign)


def prepare_report_folder(folder: Path, overwrite: bool, option: str = "--out") -> None:
    """Make sure a new report can go into ``folder``, before anything is trained.

    Raises :class:`LabError` if ``folder`` is not a writable folder, or already holds files and
    ``overwrite`` is false, or holds files that no report writes (it is then left as it is).
    With ``overwrite`` a report folder is emptied, its page first.
    """
    check_writable(folder, option)
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    if not overwrite:
        raise LabError(
            f"{option} {folder} already holds files (a previous report?); pass --overwrite to replace "
            "them, or choose another folder"
        )
    foreign = foreign_entries(folder)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise LabError(
            f"{option} {folder} holds files an adamkit report does not write ({shown}); "
            "it is not emptied: choose another folder"
        )
    (folder / REPORT_PAGE).unlink(missing_ok=True)  # first: never a page without its runs
    for entry in folder.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def save_figure(figure: Any, path: Path, dpi: int) -> Path:
    """Save a matplotlib figure as the PNG ``path``, whole or not at all."""
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=dpi)
    return path
