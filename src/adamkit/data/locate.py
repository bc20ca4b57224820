"""Where a data set's files are looked for, in order, and what was found there.

1. the ``root`` argument: the folder itself, then its ``<name>/`` sub-folder;
2. ``$ADAMKIT_DATA/<name>/``;
3. the user cache, ``<user cache>/adamkit/<name>/`` (``~/.cache/adamkit/<name>`` on
   Linux, honouring ``XDG_CACHE_HOME``; the folder pooch's ``os_cache`` names, found
   without importing pooch, which only downloads need);
4. folders that system packages install to (Debian's ``dataset-fashion-mnist``
   puts Fashion-MNIST in ``/usr/share/datasets/fashion-mnist``).

The first folder holding every file, all verified, wins. Downloads go to
``<root>/<name>/`` when ``root`` is given, else ``$ADAMKIT_DATA/<name>/`` when set,
else the user cache.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .checksums import read_checked
from .registry import DatasetSpec

ENV_VAR = "ADAMKIT_DATA"


@dataclass(frozen=True)
class Place:
    """A folder to search, and how to name it in messages (``folder`` is None when unset)."""

    label: str
    folder: Path | None


@dataclass(frozen=True)
class Finding:
    """What one folder holds: ``blobs`` (file bytes by name) when complete and valid."""

    note: str
    blobs: dict[str, bytes] | None = None
    corrupt: bool = False


def user_cache_dir() -> Path:
    """The per-user cache folder for adamkit's downloads: platformdirs' (which pooch uses), or
    the same rule spelled out where platformdirs is not installed."""
    try:
        import platformdirs
    except ImportError:
        platformdirs = None
    if platformdirs is not None:
        return Path(platformdirs.user_cache_dir("adamkit"))
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
        return Path(local) / "adamkit" / "adamkit" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "adamkit"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "adamkit"


def search_places(spec: DatasetSpec, root: str | os.PathLike | None) -> list[Place]:
    """The folders to search for ``spec``'s files, in order, without repeats."""
    places = []
    if root is not None:
        root = Path(root).expanduser()
        places += [Place("root argument", root), Place("root argument", root / spec.name)]
    env = os.environ.get(ENV_VAR)
    env_folder = Path(env).expanduser() / spec.name if env else None
    places.append(Place(f"${ENV_VAR}/{spec.name}" if env else f"${ENV_VAR} (not set)", env_folder))
    places.append(Place("user cache", user_cache_dir() / spec.name))
    for folder in spec.system_dirs:
        label = f"package {spec.apt_package}" if spec.apt_package else "system folder"
        places.append(Place(label, Path(folder)))
    unique, seen = [], set()
    for place in places:
        key = None if place.folder is None else os.path.abspath(place.folder)
        if key is None or key not in seen:
            unique.append(place)
            seen.add(key)
    return unique


def download_folder(spec: DatasetSpec, root: str | os.PathLike | None) -> Path:
    """Where a download of ``spec`` goes: always a ``<name>/`` folder (MNIST's file names repeat)."""
    if root is not None:
        return Path(root).expanduser() / spec.name
    env = os.environ.get(ENV_VAR)
    return (Path(env).expanduser() if env else user_cache_dir()) / spec.name


def inspect_folder(spec: DatasetSpec, folder: Path) -> Finding:
    """Read and verify ``spec``'s files in ``folder``."""
    present = [file for file in spec.files if (folder / file.name).is_file()]
    if not present:
        return Finding("not found")
    if len(present) < len(spec.files):
        missing = [file.name for file in spec.files if file not in present]
        return Finding(f"incomplete, missing {', '.join(missing)}")
    blobs, problems = {}, []
    for file in spec.files:
        path = folder / file.name
        raw, problem = read_checked(file, path)
        if problem:
            problems.append(f"{path}: {problem}")
        else:
            blobs[file.name] = raw
    if problems:
        return Finding("corrupt: " + "; ".join(problems), corrupt=True)
    return Finding("found", blobs)
