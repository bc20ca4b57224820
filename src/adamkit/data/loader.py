"""``load``: find (or download), verify, read and split a data set."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from .dataset import DataError, Dataset, DataWarning
from .download import download_missing
from .locate import ENV_VAR, Finding, download_folder, inspect_folder, search_places
from .registry import DATASETS, DatasetSpec
from .splits import stratified_holdout


def load(
    name: str,
    seed: int = 0,
    validation: float = 0.2,
    root: str | os.PathLike | None = None,
    download: bool = True,
) -> Dataset:
    """Load a data set as ``float32`` images in [0, 1] (``N x C x H x W``) and ``int64`` labels.

    Args:
        name: one of :data:`adamkit.data.DATASETS`: ``"digits"`` (scikit-learn's 8 x 8
            digits, embedded), ``"fashion-mnist"``, ``"mnist"``, ``"cifar10"``.
        seed: seeds the validation split (and nothing else: the test split is fixed).
        validation: the fraction of the training set held out as ``x_val, y_val``,
            stratified by class; in [0, 1). The same seed gives the same split.
        root: a folder holding the files (or a ``<name>/`` sub-folder of it), searched
            first; downloads then go to ``<root>/<name>/``.
        download: download from the official mirrors if no folder has the files.

    Files are looked for in ``root``, ``$ADAMKIT_DATA/<name>/``, the user cache
    folder and system folders (``/usr/share/datasets/fashion-mnist`` from the
    Debian package ``dataset-fashion-mnist``), and verified against their known
    SHA-256 (or MD5) before they are read; see :mod:`adamkit.data.locate`.

    Raises:
        ValueError: unknown ``name`` (the message lists the known ones) or a
            ``validation`` outside [0, 1).
        DataError: files missing, corrupt, truncated, or failing to download: one
            paragraph naming every folder searched and how to get the data.

    Warns:
        DataWarning: a corrupt copy in the download folder was skipped for a valid copy
            elsewhere, or is being replaced by a download (the message names its files).

    Example:
        >>> from adamkit.data import load
        >>> ds = load("digits", seed=0, validation=0.2)
        >>> ds.x_train.shape[1:], ds.x_train.dtype.name, ds.num_classes
        ((1, 8, 8), 'float32', 10)
    """
    spec = DATASETS.get(name.lower().replace("_", "-"))
    if spec is None:
        raise ValueError(f"Unknown data set {name!r} (known: {', '.join(sorted(DATASETS))})")
    if not 0.0 <= validation < 1.0:
        raise ValueError(f"Invalid validation fraction (validation): {validation} (must be in [0, 1))")

    if spec.files:
        folder, blobs, looked = find_files(spec, root, download)
        try:
            x_train, y_train, x_test, y_test = spec.decode(spec, blobs)
        except DataError as error:
            raise DataError(explain(spec, f"in {folder}, {error}", looked, root)) from error
        source = str(folder)
    else:
        try:
            x_train, y_train, x_test, y_test = spec.decode(spec, {})
        except DataError as error:
            raise DataError(explain(spec, str(error), [], root)) from error
        source = "scikit-learn (embedded)"

    keep, held = stratified_holdout(y_train, validation, seed)

    def scaled(images: np.ndarray) -> np.ndarray:  # split first, then convert: 4x less to copy
        return images.astype(np.float32) / np.float32(spec.max_value)

    return Dataset(
        name=spec.name,
        title=spec.title,
        num_classes=spec.num_classes,
        input_shape=spec.input_shape,
        class_names=list(spec.class_names),
        x_train=scaled(x_train[keep]),
        y_train=y_train[keep],
        x_val=scaled(x_train[held]),
        y_val=y_train[held],
        x_test=scaled(x_test),
        y_test=y_test,
        source=source,
    )


def find_files(
    spec: DatasetSpec, root: str | os.PathLike | None, download: bool
) -> tuple[Path, dict[str, bytes], list[str]]:
    """The folder with ``spec``'s verified files, their bytes, and the notes of every place searched.

    A corrupt copy is an error, not something to skip silently, except in the
    download folder when ``download`` is true: a new download replaces it, or a
    later folder's copy is used, and a :class:`DataWarning` names the corrupt files.
    """
    target = download_folder(spec, root)
    looked: list[str] = []
    skipped = None  # the note on a corrupt copy in the download folder
    for place in search_places(spec, root):
        if place.folder is None:
            looked.append(place.label)
            continue
        finding = inspect_folder(spec, place.folder)
        looked.append(f"{place.label} {place.folder} ({finding.note})")
        if finding.blobs is not None:
            if skipped:
                _warn(spec, target, skipped, f"using the copy in {place.folder} instead")
            return place.folder, finding.blobs, looked
        if finding.corrupt and not (download and _same_folder(place.folder, target)):
            raise DataError(explain(spec, "a copy of its files is corrupt", looked, root))
        if finding.corrupt:
            skipped = finding.note
    if not download:
        raise DataError(explain(spec, "its files were not found (download=False)", looked, root))
    if skipped:
        _warn(spec, target, skipped, "downloading new copies over the corrupt files")
    try:
        download_missing(spec, target)
    except DataError as error:
        raise DataError(explain(spec, str(error), looked, root, tried_download=True)) from error
    finding: Finding = inspect_folder(spec, target)
    if finding.blobs is None:  # pooch checked the SHA-256; this also checks MD5 and completeness
        raise DataError(explain(spec, f"the download into {target} is {finding.note}", looked, root))
    return target, finding.blobs, looked + [f"downloaded into {target}"]


def _warn(spec: DatasetSpec, folder: Path, note: str, action: str) -> None:
    warnings.warn(
        f"{spec.title} ({spec.name}): the copy in {folder} is {note}; {action}", DataWarning, stacklevel=4
    )


def explain(
    spec: DatasetSpec,
    problem: str,
    looked: list[str],
    root: str | os.PathLike | None,
    tried_download: bool = False,
) -> str:
    """The one-paragraph error: the data set, what went wrong, every place searched, how to get it."""
    ways = []
    if spec.apt_package:
        where = f", which puts the files in {spec.system_dirs[0]}" if spec.system_dirs else ""
        command = f"apt-get install {spec.apt_package}"
        ways.append(f"install the Debian/Ubuntu package {spec.apt_package} ({command}){where}")
    if spec.mirrors:
        how = "check the network and try again:" if tried_download else "call"
        ways.append(
            f"{how} adamkit.data.load({spec.name!r}, download=True) to download them "
            f"from {spec.mirrors[0]} into {download_folder(spec, root)}"
        )
    if spec.files:
        names = ", ".join(file.name for file in spec.files)
        example = f" (e.g. {spec.mirrors[0]}{spec.files[0].name})" if spec.mirrors else ""
        ways.append(
            f"{'or ' if ways else ''}fetch {names}{example} yourself into a folder and pass it as root=, "
            f"or into ${ENV_VAR}/{spec.name}/"
        )
    message = f"{spec.title} ({spec.name}) could not be loaded: {problem}."
    if looked:
        message += f" Looked in: {'; '.join(looked)}."
    if ways:
        message += f" To get it: {'; '.join(ways)}."
    return " ".join(message.split())  # one paragraph, whatever the parts held


def _same_folder(a: Path, b: Path) -> bool:
    return os.path.abspath(a) == os.path.abspath(b)
