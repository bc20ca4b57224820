"""Where the lab writes: a bad ``--out`` refused before any work, used report folders refused
unless ``--overwrite`` (which never deletes foreign files), and a rerun or an interrupted one
never leaving a report that describes other runs than those beside it. Real CLI runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from adamkit import cli
from adamkit.lab import compare as compare_module
from adamkit.lab import report, runner, sphere, trajectories

pytestmark = pytest.mark.usefixtures("one_torch_thread")

UNWRITABLE = Path("/sys/adamkit-report")  # sysfs: read-only, even for root
SMALL = ["--data", "digits", "--epochs", "1", "--seeds", "1", "--no-progress"]
TINY = [*SMALL, "--train-limit", "200"]  # compare's only


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def previous_report(folder: Path, *extra: str) -> None:
    """A folder as a finished comparison leaves it, plus ``extra`` files of someone else's."""
    (folder / "runs").mkdir(parents=True)
    names = ("report.html", "summary.json", "loss.png", "runs/adam-seed0.json", "runs/adam-seed0.csv")
    for name in (*names, *extra):
        (folder / name).write_text(f"old {name}\n")


def bad_outs(tmp_path: Path) -> dict[str, tuple[Path, list[str], str]]:
    """Case -> (--out, more arguments, the error's words)."""
    (tmp_path / "file.txt").write_text("keep me\n")
    previous_report(tmp_path / "used")
    previous_report(tmp_path / "mixed", "notes.txt")
    file = tmp_path / "file.txt"
    return {
        "a file": (file, [], f"--out {file} is a file, not a folder"),
        "inside a file": (file / "report", [], f"--out {file / 'report'} is inside {file}, which is a file"),
        "not writable": (UNWRITABLE, [], f"--out {UNWRITABLE}: cannot write in /sys (Permission denied)"),
        "used": (tmp_path / "used", [], "already holds files (a previous report?); pass --overwrite"),
        "foreign files": (
            tmp_path / "mixed",
            ["--overwrite"],
            "holds files an adamkit report does not write (notes.txt); it is not emptied",
        ),
    }


@pytest.fixture
def no_work(monkeypatch):
    """Any training, path or plot computed makes the test fail: the checks come first."""

    def fail(*args, **kwargs):
        raise AssertionError("work started before --out was checked")

    monkeypatch.setattr(compare_module, "load_tensors", fail)
    monkeypatch.setattr(trajectories, "run_all", fail)
    monkeypatch.setattr(sphere, "reproduce_sphere", fail)


@pytest.mark.parametrize("command", [["compare"], ["reproduce", "mlp"]])
@pytest.mark.parametrize("case", ["a file", "inside a file", "not writable", "used", "foreign files"])
def test_a_bad_report_folder_is_refused_before_training_and_changes_nothing(
    capsys, tmp_path, no_work, command, case
):
    if case == "not writable" and not Path("/sys").is_dir():
        pytest.skip("needs Linux's read-only /sys")
    out, more, words = bad_outs(tmp_path)[case]
    before = snapshot(tmp_path)
    status, stdout, err = run_cli(capsys, *command, *SMALL, "--out", str(out), *more)
    assert status == 1
    assert err.startswith(f"adamkit {command[0]}: error: ") and err.count("\n") == 1
    assert words in err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", [["trajectories", "--function", "sphere"], ["reproduce", "sphere"]])
def test_the_other_commands_check_their_out_folder_first(capsys, tmp_path, no_work, command):
    out, _, words = bad_outs(tmp_path)["a file"]
    status, _, err = run_cli(capsys, *command, "--out", str(out))
    assert status == 1
    assert words in err
    assert (tmp_path / "file.txt").read_text() == "keep me\n"


def page_runs(folder: Path) -> list[str]:
    """The run files report.html lists."""
    return re.findall(r"<code>(runs/[^<]+)</code>", (folder / "report.html").read_text())


def test_overwrite_replaces_a_report_and_an_interrupted_rerun_leaves_no_page(capsys, tmp_path, monkeypatch):
    out = tmp_path / "report"
    status, _, err = run_cli(capsys, "compare", *TINY, "--optimizers", "adam,sgd", "--out", str(out))
    assert status == 0, err
    assert page_runs(out) == ["runs/adam-seed0.json", "runs/sgd-seed0.json"]

    argv = ["compare", *TINY, "--optimizers", "rmsprop", "--out", str(out), "--overwrite"]
    status, _, err = run_cli(capsys, *argv)
    assert status == 0, err
    # nothing of the previous comparison is left, and the page lists exactly its own runs
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["rmsprop-seed0.csv", "rmsprop-seed0.json"]
    assert page_runs(out) == ["runs/rmsprop-seed0.json"]
    assert [row["optimizer"] for row in json.loads((out / "summary.json").read_text())] == ["rmsprop"]
    report_files = {"report.html", "summary.csv", "summary.json", *report.PLOTS}
    assert {p.name for p in out.iterdir()} == {"runs", *report_files}  # no temporary file left

    real_train = runner.train

    def interrupted_at_the_second_run(config, *args, **kwargs):
        if config.optimizer == "sgd":
            raise KeyboardInterrupt
        return real_train(config, *args, **kwargs)

    monkeypatch.setattr(compare_module, "train", interrupted_at_the_second_run)
    argv = ["compare", *TINY, "--optimizers", "adam,sgd", "--out", str(out), "--overwrite"]
    status, _, err = run_cli(capsys, *argv)
    assert status == 130 and "interrupted" in err
    # the finished run is saved whole; no page, no summary, nothing of the replaced report
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == [
        "runs",
        "runs/adam-seed0.csv",
        "runs/adam-seed0.json",
    ]
    assert json.loads((out / "runs" / "adam-seed0.json").read_text())["config"]["optimizer"] == "adam"


def test_a_plot_that_fails_half_written_leaves_the_previous_one_whole(capsys, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    argv = ["trajectories", "--function", "sphere", "--optimizers", "adam", "--steps", "5"]
    argv += ["--out", str(tmp_path)]
    assert run_cli(capsys, *argv)[0] == 0
    before = snapshot(tmp_path)

    def disk_full(self, target, *args, **kwargs):
        if hasattr(target, "write"):
            target.write(b"\x89PNG half")
        else:
            Path(target).write_bytes(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", disk_full)
    with pytest.raises(OSError, match="No space left"):
        cli.main(argv)
    assert snapshot(tmp_path) == before  # the old PNG, and no temporary file
