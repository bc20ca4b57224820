"""The kernels' machine-code cache: a new process loads what an earlier one compiled, bit for
bit, without starting numba's compiler; a damaged file or an edited source compiles again."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("numba")

from numba import types  # noqa: E402

from adamkit.torch.kernels import machine_code  # noqa: E402

# A fresh process: three fused Adam steps (a group large enough for the parallel launcher,
# and a bias alone in a group for the serial one), then the parameters' bytes and whether numba's compiler
# started (its implementations, numba.np.arraymath among them, load only when it does).
STEPS = """
import hashlib, json, sys, torch, adamkit.torch
torch.manual_seed(0)
params = [torch.nn.Parameter(torch.randn(70_000)), torch.nn.Parameter(torch.randn(100))]
groups = [{"params": params[:1]}, {"params": params[1:], "lr": 0.1}]
opt = adamkit.torch.Adam(groups, lr=0.01, weight_decay=0.1, amsgrad=True)
for _ in range(3):
    for p in params:
        p.grad = torch.randn_like(p)
    opt.step()
digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in params)).hexdigest()
compiler, threads = "numba.np.arraymath" in sys.modules, torch.get_num_threads()
print(json.dumps({"engine": opt.engine, "params": digest, "compiler": compiler, "threads": threads}))
"""


def run_steps(cache: str, prelude: str = "") -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    script = prelude + STEPS
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_new_process_loads_the_compiled_kernels_bit_for_bit_without_numba_s_compiler(tmp_path):
    compiling = run_steps(str(tmp_path))
    files = sorted(p.name for p in (tmp_path / "adamkit").glob("*.nbo"))
    loading = run_steps(str(tmp_path))
    assert compiling["engine"] == loading["engine"] == "fused"
    assert compiling["compiler"] and not loading["compiler"]
    assert loading["params"] == compiling["params"]
    # the entry point and both launchers, each in one file, none rewritten by the second process
    assert [name.split("-")[0] for name in files] == [
        "adamkit.torch.kernels.adam.adam_entry",
        "adamkit.torch.kernels.jit.run_blocks",
        "adamkit.torch.kernels.jit.run_blocks",
    ]
    assert sorted(p.name for p in (tmp_path / "adamkit").glob("*.nbo")) == files


def test_torch_s_thread_count_survives_numba_s_thread_pool_starting(tmp_path):
    # numba's OpenMP pool, started by the first step (compiling, then loading), sets the shared
    # OpenMP runtime's thread count to its own size; the user's torch.set_num_threads(1) must stay
    prelude = "import torch\ntorch.set_num_threads(1)\n"
    compiling = run_steps(str(tmp_path), prelude)
    loading = run_steps(str(tmp_path), prelude)
    assert compiling["compiler"] and not loading["compiler"]
    assert compiling["threads"] == loading["threads"] == 1


def triple(x):
    return 3 * x


SIGNATURE = types.int64(types.int64)


def call(address: int, x: int) -> int:
    return ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(address)(x)


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache folder, and no function loaded yet in this process."""
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(machine_code, "_LOADED", {})
    return tmp_path / "adamkit"


def test_compiled_code_is_saved_and_loads_back(fresh_cache):
    assert call(machine_code.compiled(triple, SIGNATURE), 14) == 42
    (path,) = fresh_cache.glob("*.nbo")
    assert path == machine_code.cache_file(triple, SIGNATURE, False)
    address, _library = machine_code._load(path)
    assert call(address, -5) == -15


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_cache_files_get_the_umask_s_permissions_so_a_shared_cache_can_be_shared(fresh_cache, umask):
    """A group sharing a cache folder (umask 002) can read and replace each other's kernels."""
    old = os.umask(umask)
    try:
        machine_code.compiled(triple, SIGNATURE)
    finally:
        os.umask(old)
    (path,) = fresh_cache.glob("*.nbo")
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert not [p.name for p in fresh_cache.iterdir() if p.suffix != ".nbo"]  # no temporary left


@pytest.mark.parametrize("damage", [b"", b"not a pickle", "truncated"])
def test_a_damaged_file_is_compiled_again_and_replaced(fresh_cache, damage):
    machine_code.compiled(triple, SIGNATURE)
    path = machine_code.cache_file(triple, SIGNATURE, False)
    path.write_bytes(path.read_bytes()[:100] if damage == "truncated" else damage)
    assert machine_code._load(path) is None
    machine_code._LOADED.clear()
    assert call(machine_code.compiled(triple, SIGNATURE), 7) == 21
    assert machine_code._load(path) is not None


@pytest.mark.filterwarnings("ignore::numba.NumbaPerformanceWarning")  # parallel=True, nothing to spread
def test_new_builds_replace_the_oldest_beyond_three_of_that_function_and_variant(fresh_cache, monkeypatch):
    machine_code.compiled(triple, SIGNATURE, parallel=True)  # another variant: kept throughout
    other_variant = machine_code.cache_file(triple, SIGNATURE, True)
    builds = []
    for build in "abcd":  # four builds, as after edits or upgrades
        monkeypatch.setattr(machine_code, "_BUILD_KEY", [build * 64])
        machine_code._LOADED.clear()
        assert call(machine_code.compiled(triple, SIGNATURE), 2) == 6
        builds.append(machine_code.cache_file(triple, SIGNATURE, False))
        os.utime(builds[-1], (1e9 + len(builds), 1e9 + len(builds)))  # in order, whatever the clock
    assert [path.exists() for path in builds] == [False, True, True, True]
    assert other_variant.exists()
    assert len(list(fresh_cache.glob("*.nbo"))) == 4


def test_the_source_digest_changes_with_any_file_s_contents_or_name(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 2\n")
    before = machine_code.source_digest((tmp_path,))
    assert machine_code.source_digest((tmp_path,)) == before
    (tmp_path / "b.py").write_text("y = 3\n")
    edited = machine_code.source_digest((tmp_path,))
    (tmp_path / "b.py").rename(tmp_path / "c.py")
    renamed = machine_code.source_digest((tmp_path,))
    assert len({before, edited, renamed}) == 3


def test_the_cache_follows_numba_s_cache_variable_or_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    assert machine_code.cache_folder() == tmp_path / "numba" / "adamkit"
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert machine_code.cache_folder() == tmp_path / "xdg" / "adamkit" / "kernels"


def test_the_build_key_changes_with_numba_s_code_settings_and_the_target_cpu(monkeypatch):
    from numba.core import config

    monkeypatch.setattr(machine_code, "_BUILD_KEY", [])
    default = machine_code.build_key()
    keys = {default}
    for name, value in (("OPT", 0), ("BOUNDSCHECK", 1), ("CPU_NAME", "generic")):
        with monkeypatch.context() as patch:
            patch.setattr(config, name, value)
            patch.setattr(machine_code, "_BUILD_KEY", [])
            keys.add(machine_code.build_key())
    monkeypatch.setattr(machine_code, "_BUILD_KEY", [])
    assert machine_code.build_key() == default
    assert len(keys) == 4
