"""The ``adamkit`` command: help everywhere, one-line errors with a non-zero status, lazy subcommands."""

from __future__ import annotations

import subprocess
import sys

import pytest

from adamkit import cli

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run ``adamkit argv`` in this process: (exit status, stdout, stderr)."""
    try:
        status = cli.main(list(argv))
    except SystemExit as exit_:
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("command", list(cli.COMMANDS))
def test_every_command_has_help(capsys, command):
    status, out, _ = run_cli(capsys, command, "--help")
    assert status == 0
    assert out.startswith(f"usage: adamkit {command}")


def test_top_level_help_lists_the_commands(capsys):
    status, out, _ = run_cli(capsys, "--help")
    assert status == 0
    for command in cli.COMMANDS:
        assert f"\n  {command} " in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compare", "--optimizers", "adam,nope"], "argument --optimizers: unknown optimizer 'nope'"),
        (["compare", "--optimizers", "adam,adam"], "an optimizer is named twice"),
        (["compare", "--data", "imagenet"], "argument --data: unknown data set 'imagenet'"),
        (["compare", "--model", "resnet"], "argument --model: unknown model 'resnet'"),
        (["compare", "--epochs", "-1"], "argument --epochs: -1 is not a positive integer"),
        (["compare", "--seeds", "0"], "argument --seeds: 0 is not a positive integer"),
        (["compare", "--batch-size", "-32"], "argument --batch-size: -32 is not a positive integer"),
        (["compare", "--lr", "-0.1"], "argument --lr: -0.1 is not a positive number"),
        (["compare", "--lr", "nan"], "argument --lr: 'nan' is not a finite number"),
        (["compare", "--epochs", "two"], "argument --epochs: 'two' is not a number"),
        (["compare", "--validation", "1.5"], "argument --validation: 1.5 is not in [0, 1)"),
        (["compare", "--schedule", "cosin"], "argument --schedule: Unknown schedule 'cosin'"),
        (["compare", "--schedule", "step:10"], "expected step:EVERY:GAMMA"),
        (["compare", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["reproduce", "resnet"], "argument recipe: invalid choice: 'resnet'"),
        (["reproduce", "mlp", "--optimizer", "adamw4"], "unknown optimizer 'adamw4'"),
        (["reproduce", "mlp", "--seeds", "-3"], "argument --seeds: -3 is not a positive integer"),
        (["bogus"], "argument COMMAND: invalid choice: 'bogus'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_bad_arguments_give_one_line_and_status_2(capsys, argv, message):
    status, out, err = run_cli(capsys, *argv)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n")
    assert message in err
    assert err.startswith("adamkit")


def test_the_installed_entry_point_fails_the_same_way():
    done = subprocess.run(
        [sys.executable, "-m", "adamkit.cli", "compare", "--optimizers", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert "unknown optimizer 'nope'" in done.stderr


def test_a_data_error_while_running_is_one_line_and_status_1(capsys, monkeypatch):
    import adamkit.data

    def missing(*args, **kwargs):
        raise adamkit.data.DataError(
            "Fashion-MNIST could not be loaded:\n  looked in /nowhere;\n  get it so."
        )

    monkeypatch.setattr(adamkit.data, "load", missing)
    status, _, err = run_cli(capsys, "compare", "--data", "fashion-mnist", "--no-progress")
    assert status == 1
    assert (
        err == "adamkit compare: error: Fashion-MNIST could not be loaded: looked in /nowhere; get it so.\n"
    )


def test_a_bug_is_not_hidden_as_a_user_error(capsys, monkeypatch):
    import adamkit.data

    monkeypatch.setattr(adamkit.data, "load", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cli.main(["compare", "--no-progress"])


def test_a_missing_subcommand_module_breaks_only_itself(capsys, monkeypatch):
    monkeypatch.setitem(cli.COMMANDS, "ghost", ("adamkit.lab.no_such_module", "not written yet"))
    status, _, err = run_cli(capsys, "ghost", "--help")
    assert status == 1
    assert err == (
        "adamkit ghost: error: this command is not available (No module named 'adamkit.lab.no_such_module')\n"
    )
    assert run_cli(capsys, "compare", "--help")[0] == 0


def test_subcommand_modules_are_imported_only_when_asked_for():
    code = (
        "import sys, adamkit.cli as c\n"
        "try:\n    c.main(['--version'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('adamkit.lab', 'torch'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith("adamkit 0.")
    assert done.stdout.splitlines()[-1] == "[]"


def test_compare_end_to_end_prints_summary_and_report_path(capsys, tmp_path):
    out_dir = tmp_path / "report"
    argv = ["compare", "--data", "digits", "--optimizers", "adam,sgd", "--epochs", "2", "--seeds", "2"]
    argv += ["--train-limit", "300", "--schedule", "warmup-cosine:5", "--out", str(out_dir), "--no-progress"]
    status, out, err = run_cli(capsys, *argv)
    assert status == 0, err
    assert out.strip().endswith(f"Report: {(out_dir / 'report.html').resolve()}")
    assert (out_dir / "report.html").exists()
    table = out[out.index("test accuracy over seeds") :]
    assert "adam" in table and "sgd" in table and "0.001" in table and "0.01" in table
    assert "schedule warmup-cosine:5" in out
