"""``compare --tune lr``: each optimizer's rate chosen on the validation split, before the final runs.

The choice is checked against runs trained here independently (the runner, no tuning code):
the chosen rate must be the grid rate whose runs have the best mean validation accuracy.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from adamkit import cli
from adamkit.lab import tuning
from adamkit.lab.runner import RunConfig, load_tensors, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BASE = RunConfig(data="digits", model="mlp", epochs=2, train_limit=300)
GRID = (1e-3, 1e-2, 1e-1)


def test_log_grid_and_spec():
    assert tuning.parse_tune_spec("lr") == tuning.log_grid(1e-4, 1e-1, 7)
    assert tuning.parse_tune_spec("lr") == (1e-4, 0.0003162, 1e-3, 0.003162, 1e-2, 0.03162, 0.1)
    assert tuning.parse_tune_spec("LR=1e-2:1:3") == (0.01, 0.1, 1.0)
    for bad, message in [
        ("momentum", "only the learning rate"),
        ("lr=1e-3:1e-1", "LOW:HIGH:POINTS"),
        ("lr=a:1:3", "must be numbers"),
        ("lr=1e-1:1e-3:3", "0 < low < high"),
        ("lr=0:1:3", "0 < low < high"),
        ("lr=1e-3:1:1", "points must be >= 2"),
    ]:
        with pytest.raises(ValueError, match=message):
            tuning.parse_tune_spec(bad)


def test_choose_takes_the_best_mean_never_a_diverged_rate():
    assert tuning.choose(GRID, [[0.5, 0.9], [0.8, 0.55], [0.6, 0.6]]) == 1e-3  # the mean, not the best seed
    assert tuning.choose(GRID, [[0.5, 0.9], [0.8, 0.71], [0.6, 0.6]]) == 1e-2
    assert tuning.choose(GRID, [[0.7], [0.7], [0.6]]) == 1e-3  # a tie: the smaller rate
    assert tuning.choose(GRID, [[0.1], [0.2], [math.nan]]) == 1e-2
    assert tuning.choose(GRID, [[0.1], [0.2, math.nan], [0.15]]) == 1e-1  # one diverged seed spoils a rate
    assert tuning.choose(GRID, [[math.nan]] * 3) == 1e-3


def test_the_chosen_rate_is_the_best_mean_validation_accuracy_of_independent_runs():
    data = load_tensors(BASE)
    found = tuning.tune_lr(BASE, "sgd", GRID, seeds=2, data=data)
    # the same runs, trained here without the tuning code, scored on the validation split
    means = []
    for lr in GRID:
        runs = [train(replace(BASE, optimizer="sgd", lr=lr, seed=seed), data) for seed in (0, 1)]
        means.append(sum(r.history[-1].val_accuracy for r in runs) / 2)
    assert found.means == pytest.approx(means, abs=0)
    assert found.chosen == GRID[max(range(len(GRID)), key=means.__getitem__)]
    assert len(set(means)) > 1  # the grid makes a difference here, so the choice means something
    again = tuning.tune_lr(BASE, "sgd", GRID, seeds=2, data=data)
    assert again.scores == found.scores and again.chosen == found.chosen  # same seeds, same choice


def test_compare_tune_end_to_end(capsys, tmp_path):
    out_dir = tmp_path / "report"
    argv = ["compare", "--data", "digits", "--optimizers", "adam,sgd", "--epochs", "2", "--seeds", "2"]
    argv += ["--train-limit", "300", "--tune", "lr=1e-3:1e-1:3", "--out", str(out_dir), "--no-progress"]
    status = cli.main(argv)
    out = capsys.readouterr().out
    assert status == 0
    searched = json.loads((out_dir / "tuning.json").read_text())
    assert [s["optimizer"] for s in searched] == ["adam", "sgd"]
    summary = {row["optimizer"]: row for row in json.loads((out_dir / "summary.json").read_text())}
    for search in searched:
        means = [sum(row) / len(row) for row in search["scores"]]
        assert search["chosen"] == search["grid"][means.index(max(means))]
        assert summary[search["optimizer"]]["lr"] == search["chosen"]  # the final runs used it
        assert f"{search['optimizer']}: lr {search['chosen']:g} chosen" in out
    page = (out_dir / "report.html").read_text()
    assert 'alt="sensitivity"' in page and "tuned per optimizer on the validation split" in page
    # a rerun with --overwrite replaces the tuned report (its files are a report's)
    assert cli.main([*argv, "--overwrite"]) == 0


def test_tune_is_refused_with_lr_or_without_validation(capsys, tmp_path):
    for extra, message in [
        (["--lr", "0.1"], "drop --lr"),
        (["--validation", "0"], "--validation must be > 0"),
    ]:
        status = cli.main(["compare", "--tune", "lr", "--out", str(tmp_path / "r"), "--no-progress", *extra])
        assert status == 1
        assert message in capsys.readouterr().err
        assert not (tmp_path / "r").exists()  # refused before anything was written
