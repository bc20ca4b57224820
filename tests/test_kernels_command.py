"""``adamkit kernels``: compiles the kernels ahead into the cache a later process loads them from."""

from __future__ import annotations

import pytest

pytest.importorskip("numba")

from adamkit.cli import main  # noqa: E402
from adamkit.lab.kernels import kernels  # noqa: E402
from adamkit.torch.kernels import jit, machine_code  # noqa: E402


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache folder, and no kernel compiled or loaded yet in this process."""
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    for memo in (machine_code, "_LOADED"), (jit, "_ENTRIES"), (jit, "_LAUNCHERS"):
        monkeypatch.setattr(*memo, {})
    return tmp_path / "adamkit"


def listing(capsys, *arguments: str) -> dict[str, str]:
    assert main(["kernels", "--list", *arguments]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("cache: ")
    return {line[:20].strip(): line[20:].strip() for line in lines[:-1]}


def test_compiles_what_is_asked_into_the_cache_and_lists_it(fresh_cache, capsys):
    asked = ("--optimizers", "sgd", "--state-bits", "none")
    assert set(listing(capsys, *asked).values()) == {"not compiled"}
    assert main(["kernels", *asked]) == 0
    out = capsys.readouterr().out
    assert out.count("compiling ... ") == 3 and f"cache: {fresh_cache}" in out
    assert listing(capsys, *asked) == {
        "launcher (serial)": "compiled",
        "launcher (parallel)": "compiled",
        "sgd float32": "compiled",
    }
    assert len(list(fresh_cache.glob("*.nbo"))) == 3
    for kernel in kernels(["sgd"], ["float32"], []):
        assert machine_code._load(kernel.path()) is not None  # loads as a later process would
    assert listing(capsys, "--optimizers", "sgd,adagrad", "--state-bits", "none")["adagrad float32"] == (
        "not compiled"
    )


def test_each_entry_point_once_per_dtype_and_low_bit_where_a_family_has_it():
    names = [k.name for k in kernels(["adam", "adamw", "swats", "sgd"], ["float32", "float64"], ["8"])]
    assert names == [
        "launcher (serial)",
        "launcher (parallel)",
        "adam float32",
        "adam float64",
        "adam-cautious float32",  # cautious=True's first pass (its second is Adam's own entry)
        "adam-cautious float64",
        "swats-adam float32",
        "swats-adam float64",
        "swats-sgd float32",  # SGD's entry, first met in SWATS's second phase
        "swats-sgd float64",
        "adam 8-bit state",
        "adam 8-bit state, amsgrad",
        "sgd 8-bit state",  # (SWATS has none: its Adam phase sums over each tensor)
    ]
    assert [k.name for k in kernels(["rmsprop"], ["float32"], ["8", "16"])][2:] == [
        "rmsprop float32",
        "rmsprop 8-bit state",
        "rmsprop 16-bit state",
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--optimizers", "lbfgs"], "argument --optimizers: unknown optimizer 'lbfgs'"),
        (["--dtypes", "float16"], "argument --dtypes: unknown dtype 'float16' (known: float32, float64)"),
        (["--state-bits", "4"], "argument --state-bits: unknown state size '4' (known: 8, 16)"),
    ],
)
def test_wrong_names_are_one_line_errors(capsys, arguments, message):
    with pytest.raises(SystemExit) as exited:
        main(["kernels", *arguments])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
