"""The kernels as C functions: compiled once by numba, cached as machine code, loaded without its compiler.

Why not numba's own cache (``cache=True``)? It loads machine code too, but only after
starting numba's compiler: before it loads a function it registers every implementation
numba has (``BaseContext.refresh``, which among much else imports ``scipy.linalg`` to
look for a BLAS), about 0.9 s on the first step of every new process. Loading the code
itself takes milliseconds. So :func:`compiled` keeps each function's machine code (the
library numba serializes for its own cache: object code and bitcode) in a file of its
own, and a new process hands that file straight to numba's code generator, with numba's
runtime and thread pool started, and nothing else.

A file is named by a hash of everything its code depends on: the function and its
signature, every source file of the kernels (this package and :mod:`adamkit.torch.lowbit`,
which call each other's helpers), numba's and llvmlite's versions, the numba settings that
change its code (``NUMBA_OPT`` and the like) and the CPU numba compiles for. An edited
helper, an upgrade or another CPU never loads old code, which numba's cache, keyed on the
function's own file only, could.

Folder: ``$NUMBA_CACHE_DIR/adamkit`` where that is set (one variable moves all compiled
code, as the first-step benchmark does), else ``adamkit/kernels`` in the user's cache
folder. A file that cannot be written or read back is compiled again, never an error. Each
function keeps its three newest builds (:data:`KEEP_BUILDS`). Files get the permissions the
umask gives (0644 or, with ``umask 002``, 0664 for a cache shared by a group).

What loaded code lacks: numba's *environment*, the Python objects that only code working
with them reads (object mode, global arrays looked up at run time). Kernels take
everything as arguments or compiled-in constants.

The hooks used are numba internals (``cfunc._library``, ``codegen.unserialize_library``,
the runtime's and thread pool's start), the ones numba's cache itself uses; their version
is part of the key, and a failure to serialize leaves the compiled function in use,
uncached.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import pickle
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import llvmlite
import llvmlite.binding as llvm
import numba
import torch
from numba import cfunc, types

from ...atomic import atomic_write_bytes

#: Source folders whose files go into every key: the kernels and the low-bit codecs they inline.
SOURCES = (Path(__file__).parent, Path(__file__).parent.parent / "lowbit")

_LOADED: dict[tuple, tuple[int, object]] = {}  # (function, signature, parallel) -> (address, keep-alive)
_LOCK = threading.Lock()


def cache_folder() -> Path:
    """Where compiled kernels are kept (see the module's notes)."""
    numba_cache = os.environ.get("NUMBA_CACHE_DIR")
    if numba_cache:
        return Path(numba_cache).expanduser() / "adamkit"
    if sys.platform == "win32":
        user_cache = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        user_cache = Path.home() / "Library" / "Caches"
    else:
        user_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return user_cache / "adamkit" / "kernels"


def source_digest(folders: tuple[Path, ...] = SOURCES) -> str:
    """A hash of the ``.py`` files of ``folders`` (names and contents), in a fixed order."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.glob("*.py")):
            digest.update(f"{folder.name}/{path.name}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


_BUILD_KEY: list[str] = []


#: numba's settings that change the code it generates (its environment variables ``NUMBA_<name>``).
CODEGEN_SETTINGS = (
    "OPT",
    "BOUNDSCHECK",
    "ENABLE_AVX",
    "LOOP_VECTORIZE",
    "SLP_VECTORIZE",
    "DEBUGINFO_DEFAULT",
)


def build_key() -> str:
    """What all compiled code shares: the sources, the compiler's versions and settings, the target CPU."""
    if not _BUILD_KEY:
        config = numba.core.config
        cpu = config.CPU_NAME or llvm.get_host_cpu_name()
        features = config.CPU_FEATURES or llvm.get_host_cpu_features().flatten()
        settings = repr([getattr(config, name, None) for name in CODEGEN_SETTINGS])
        versions = f"{numba.__version__} {llvmlite.__version__} {sys.version}"
        parts = (source_digest(), versions, cpu, features, settings)
        _BUILD_KEY.append(hashlib.sha256("\n".join(parts).encode()).hexdigest())
    return _BUILD_KEY[0]


def cache_file(function: Callable, signature: types.Signature, parallel: bool) -> Path:
    """The file that holds ``function`` compiled for ``signature``:
    ``<module>.<name>-<variant>-<build>.nbo``, the variant a hash of the signature and
    ``parallel``, the build :func:`build_key`'s."""
    variant = hashlib.sha256(f"{signature}\n{parallel}".encode()).hexdigest()[:12]
    return cache_folder() / f"{function.__module__}.{function.__qualname__}-{variant}-{build_key()[:24]}.nbo"


#: Builds of one function and variant kept: two installs sharing the cache (a release and a
#: development checkout, two environments) each keep theirs instead of compiling over each other.
KEEP_BUILDS = 3


def _remove_older_builds(path: Path) -> None:
    """Delete all but the :data:`KEEP_BUILDS` newest builds of ``path``'s function and variant
    (code of sources since edited or upgraded), ``path`` always kept."""
    stem = path.name.rsplit("-", 1)[0]
    others = [old for old in path.parent.glob(f"{stem}-*.nbo") if old != path]
    others.sort(key=lambda old: old.stat().st_mtime, reverse=True)
    for old in others[KEEP_BUILDS - 1 :]:
        old.unlink(missing_ok=True)


def compiled(function: Callable, signature: types.Signature, parallel: bool = False) -> int:
    """The address of ``function`` compiled as a C function of ``signature``.

    ``parallel`` compiles its ``prange`` loops over numba's threads (without it they run
    as ``range``). Loaded from the cache folder where a previous process compiled it;
    compiled (a few seconds) and saved there otherwise.
    """
    key = (function, str(signature), parallel)
    with _LOCK:
        if key not in _LOADED:
            _codegen()  # numba's thread pool started here, where torch's thread count is kept
            path = cache_file(function, signature, parallel)
            _LOADED[key] = _load(path) or _compile(function, signature, parallel, path)
        return _LOADED[key][0]


def c_function(address: int, arguments: int) -> Callable[..., None]:
    """A Python callable for the C function at ``address`` that takes ``arguments`` 64-bit
    integers and returns nothing. Calls release the GIL (ctypes does, for C functions)."""
    return ctypes.CFUNCTYPE(None, *[ctypes.c_int64] * arguments)(address)


_CODEGEN: list = []


def _codegen():
    """numba's code generator, with what loaded code links against: numba's runtime
    (memory functions) and its thread pool (the parallel loops' scheduler)."""
    if not _CODEGEN:
        from numba.core.registry import cpu_target
        from numba.core.runtime import rtsys
        from numba.np.ufunc.parallel import _launch_threads

        context = cpu_target.target_context
        rtsys.initialize(context)
        # Starting numba's OpenMP pool sets the thread count of the OpenMP runtime it shares
        # with torch to numba's pool size: a user's torch.set_num_threads(1) would be undone
        threads = torch.get_num_threads()
        _launch_threads()
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        _CODEGEN.append(context.codegen())
    return _CODEGEN[0]


def _load(path: Path) -> tuple[int, object] | None:
    """``(address, library)`` from the file at ``path``; ``None`` if there is none or it is unreadable."""
    try:
        library_state, name = pickle.loads(path.read_bytes())
        library = _codegen().unserialize_library(library_state)
        address = library.get_pointer_to_function(name)
    except Exception:  # missing, damaged, or numba's internals not as expected: compile instead
        return None
    return (address, library) if address else None


def _compile(
    function: Callable, signature: types.Signature, parallel: bool, path: Path
) -> tuple[int, object]:
    """Compile ``function`` and save its machine code at ``path`` (as far as the folder allows)."""
    compiled_function = cfunc(signature, error_model="numpy", parallel=parallel)(function)
    try:
        state = compiled_function._library.serialize_using_object_code()
        data = pickle.dumps((state, compiled_function._wrapper_name), protocol=pickle.HIGHEST_PROTOCOL)
        path.parent.mkdir(parents=True, exist_ok=True)
        # whole or not at all, even with another process writing; readable as the umask allows,
        # so that a cache folder shared by a group is shared by its files too
        atomic_write_bytes(path, data)
        _remove_older_builds(path)
    except (OSError, AttributeError, ValueError, RuntimeError):
        pass  # uncached: the next process compiles again
    return compiled_function.address, compiled_function
