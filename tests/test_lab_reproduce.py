"""``adamkit reproduce``: the recipes' settings, our figures beside the articles', the sphere delegation."""

from __future__ import annotations

import json
import sys
import types

import pytest

from adamkit import cli
from adamkit.lab import reproduce
from adamkit.lab.report import Summary

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def summary(name: str, mean: float, std: float = 0.001) -> Summary:
    return Summary(name, 1e-3, 3, mean, std, mean - 0.002, mean + 0.002, 0.1, mean, 0.1, 1.0, "reference")


def test_recipes_have_the_articles_settings():
    mlp = reproduce.RECIPES["mlp"]
    assert (mlp.model, mlp.optimizers, mlp.epochs, mlp.batch_size, mlp.validation) == (
        "mlp",
        ("adam",),
        5,
        32,
        0.2,
    )
    assert mlp.article_accuracy == 0.9731 and mlp.data == "mnist"
    cnn = reproduce.RECIPES["cnn-compare"]
    assert (cnn.model, cnn.optimizers, cnn.epochs, cnn.batch_size) == (
        "cnn",
        ("adagrad", "adam", "sgd"),
        10,
        60,
    )


def test_findings_set_ours_beside_the_article():
    lines = reproduce.findings(reproduce.RECIPES["mlp"], "fashion-mnist", [summary("adam", 0.8712)])
    assert lines[0] == "article: test accuracy 0.9731 on MNIST (Keras, one run)"
    assert "we ran on fashion-mnist, the article on mnist" in lines[1]
    assert lines[2].startswith(
        "ours (adam): test accuracy 0.8712 ± 0.0010 (min 0.8692, max 0.8732, 3 seed(s))"
    )
    assert lines[3] == "adam vs the article's 0.9731: -10.19 points"


def test_findings_give_the_gap_to_torch_and_the_ranking():
    rows = [summary("torch-adam", 0.9750), summary("adam", 0.9731)]
    lines = reproduce.findings(reproduce.RECIPES["mlp"], "mnist", rows)
    assert not any(line.startswith("note:") for line in lines)
    assert lines[1].startswith("ranking (ours): 1. torch-adam 0.9750 ± 0.0010")
    assert "2. adam 0.9731" in lines[1]
    assert "adamkit Adam - torch.optim.Adam (same seeds): -0.19 points of test accuracy" in lines


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_mlp_recipe_with_adamkit_and_torch_adam(capsys, tmp_path):
    argv = ["reproduce", "mlp", "--data", "digits", "--epochs", "2", "--seeds", "2"]
    argv += ["--optimizer", "adam,torch-adam", "--out", str(tmp_path), "--no-progress"]
    status, out, err = run_cli(capsys, *argv)
    assert status == 0, err
    assert "article: test accuracy 0.9731 on MNIST (Keras, one run)" in out
    # same seeds, same batches: the two Adams agree to the printed digit
    assert "adamkit Adam - torch.optim.Adam (same seeds): +0.00 points of test accuracy" in out
    assert f"Report: {(tmp_path / 'report.html').resolve()}" in out
    saved = json.loads((tmp_path / "runs" / "adam-seed1.json").read_text())
    assert saved["config"] | {"seed": 1} == {
        "data": "digits",
        "model": "mlp",
        "optimizer": "adam",
        "lr": None,
        "epochs": 2,
        "batch_size": 32,
        "seed": 1,
        "schedule": "constant",
        "validation": 0.2,
        "train_limit": None,
    }
    assert saved["lr"] == 1e-3
    assert "adamkit Adam - torch.optim.Adam" in (tmp_path / "report.html").read_text()


def test_cnn_compare_ranks_its_three_optimizers(capsys, tmp_path):
    argv = [
        "reproduce",
        "cnn-compare",
        "--data",
        "digits",
        "--epochs",
        "1",
        "--seeds",
        "1",
        "--out",
        str(tmp_path),
    ]
    status, out, err = run_cli(capsys, *argv, "--no-progress")
    assert status == 0, err
    ranking = next(line for line in out.splitlines() if line.startswith("ranking (ours):"))
    assert all(f". {name} " in ranking for name in ("adagrad", "adam", "sgd"))
    saved = json.loads((tmp_path / "runs" / "adagrad-seed0.json").read_text())
    assert (saved["config"]["model"], saved["config"]["batch_size"], saved["lr"]) == ("cnn", 60, 1e-3)


def test_sphere_delegates_to_the_trajectories_module(capsys, tmp_path, monkeypatch):
    called = {}

    def reproduce_sphere(out_dir):
        called["out_dir"] = out_dir
        return {"final point": "(1e-05, -2e-05)", "final value": 5e-10}

    fake = types.ModuleType("adamkit.lab.sphere")
    fake.reproduce_sphere = reproduce_sphere
    monkeypatch.setitem(sys.modules, "adamkit.lab.sphere", fake)
    status, out, _ = run_cli(capsys, "reproduce", "sphere", "--out", str(tmp_path))
    assert status == 0
    assert called["out_dir"] == tmp_path
    assert "final value" in out and "5e-10" in out
    assert out.strip().endswith(f"Output: {tmp_path.resolve()}")


def test_sphere_without_its_module_is_a_one_line_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "adamkit.lab.sphere", None)  # import fails as if absent
    status, _, err = run_cli(capsys, "reproduce", "sphere", "--out", str(tmp_path))
    assert status == 1
    assert err.startswith(
        "adamkit reproduce: error: recipe 'sphere' needs adamkit.lab.sphere.reproduce_sphere"
    )
    assert err.count("\n") == 1


def test_sphere_with_the_real_module(capsys, tmp_path):
    pytest.importorskip("adamkit.lab.sphere")
    status, out, err = run_cli(capsys, "reproduce", "sphere", "--out", str(tmp_path))
    assert status == 0, err
    assert any(tmp_path.iterdir())


def test_net_2_4_1_recipe_runs_the_article_loop_as_torch_adam(tmp_path, capsys):
    import torch

    from adamkit.lab import net241

    # the article's loop, written out here with torch.optim.Adam, gives the recipe's losses
    torch.manual_seed(3)
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1), torch.nn.Sigmoid()
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, betas=(0.9, 0.999), eps=1e-8)
    data = torch.Generator().manual_seed(3)
    expected = []
    for _ in range(100):
        inputs, targets = torch.rand((100, 2), generator=data), torch.rand((100, 1), generator=data)
        optimizer.zero_grad()
        loss = torch.nn.BCELoss()(model(inputs), targets)
        loss.backward()
        optimizer.step()
        expected.append(loss.item())
    import adamkit.torch

    assert net241.train_losses(adamkit.torch.Adam, seed=3) == pytest.approx(expected, rel=1e-5)
    assert cli.main(["reproduce", "2-4-1", "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "net-2-4-1.png").stat().st_size > 1000
    assert "largest loss gap" in capsys.readouterr().out
