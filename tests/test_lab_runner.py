"""The training runner on the digits data set: reproducible, equal to torch.optim, files as promised."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace

import pytest
import torch
from torch.nn import functional as F

from adamkit.lab import runner
from adamkit.lab.runner import EPOCH_COLUMNS, RunConfig, load_tensors, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# small and quick: 600 training examples, 3 epochs
BASE = RunConfig(data="digits", model="mlp", optimizer="adam", epochs=3, batch_size=32, train_limit=600)


@pytest.fixture(scope="module")
def digits() -> runner.Tensors:
    return load_tensors(BASE)


def losses(result: runner.RunResult) -> list[float]:
    return [v for r in result.history for v in (r.train_loss, r.val_loss)] + [result.test_loss]


def test_same_config_same_numbers(digits):
    first, second = train(BASE, digits), train(BASE, digits)
    assert losses(first) == losses(second)
    assert [r.val_accuracy for r in first.history] == [r.val_accuracy for r in second.history]
    assert first.test_accuracy == second.test_accuracy


def test_the_seed_changes_the_run(digits):
    assert losses(train(BASE, digits)) != losses(train(replace(BASE, seed=1), digits))


@pytest.mark.parametrize("name", ["adam", "adamw", "amsgrad", "momentum", "rmsprop", "adagrad"])
def test_adamkit_equals_torch_optim_in_the_runner(digits, name):
    ours = train(replace(BASE, optimizer=name), digits)
    peer = train(replace(BASE, optimizer=f"torch-{name}"), digits)
    assert ours.optimizer_class.startswith("adamkit.torch")
    assert peer.optimizer_class.startswith("torch.optim")
    assert losses(ours) == pytest.approx(losses(peer), abs=1e-5, rel=0)


def test_adam_learns_digits(digits):
    result = train(replace(BASE, epochs=5, train_limit=None), None)
    assert result.train_size == 1151 and result.val_size == 287 and result.test_size == 359
    assert result.history[-1].train_loss < result.history[0].train_loss / 3
    assert result.test_accuracy > 0.85


def test_schedule_sets_the_recorded_rates(digits):
    result = train(replace(BASE, optimizer="sgd", schedule="step:1ep:0.5"), digits)
    assert [r.lr for r in result.history] == [0.01, 0.005, 0.0025]
    warm = train(replace(BASE, schedule="warmup-cosine:1ep"), digits)
    assert [r.lr for r in warm.history] == [0.0, 0.001, pytest.approx(0.0005)]
    assert warm.lr == 0.001  # the base rate, not the scheduled one


def test_lr_override_and_default(digits):
    assert train(replace(BASE, optimizer="sgd", epochs=1), digits).lr == 0.01
    assert train(replace(BASE, optimizer="sgd", lr=0.05, epochs=1), digits).lr == 0.05


def test_evaluate_weights_batches_by_their_size(digits, monkeypatch):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    x, y = digits.x_val, digits.y_val
    with torch.no_grad():
        logits = model(x)
        expected_loss = F.cross_entropy(logits, y).item()
        expected_accuracy = (logits.argmax(1) == y).float().mean().item()
    monkeypatch.setattr(runner, "EVAL_BATCH", 100)  # 287 examples: batches of 100, 100, 87
    loss, accuracy = runner.evaluate(model, x, y)
    assert loss == pytest.approx(expected_loss, rel=1e-6)
    assert accuracy == pytest.approx(expected_accuracy, rel=1e-6)


def test_one_output_is_scored_with_a_sigmoid():
    logits = torch.tensor([[2.0], [-1.0], [0.5]])
    labels = torch.tensor([1, 1, 0])
    loss, hits = runner.loss_and_hits(logits, labels)
    expected = -(math.log(torch.sigmoid(torch.tensor(2.0))) + math.log(torch.sigmoid(torch.tensor(-1.0))))
    expected -= math.log(1 - torch.sigmoid(torch.tensor(0.5)).item())
    assert loss.item() == pytest.approx(expected / 3, rel=1e-6)
    assert int(hits) == 1


def test_the_2_4_1_network_trains_on_two_classes(digits):
    # zeros against ones: a binary problem for the one-output network
    keep_train = digits.y_train <= 1
    keep_test = digits.y_test <= 1
    binary = replace(
        digits,
        x_train=digits.x_train[keep_train],
        y_train=digits.y_train[keep_train],
        x_val=digits.x_val[:0],
        y_val=digits.y_val[:0],
        x_test=digits.x_test[keep_test],
        y_test=digits.y_test[keep_test],
        num_classes=2,
    )
    result = train(replace(BASE, model="2-4-1", epochs=20, lr=1e-2), binary)
    assert result.history[0].val_loss is None
    assert result.test_accuracy > 0.95


def test_json_and_csv_hold_the_run(digits, tmp_path):
    result = train(BASE, digits)
    json_path, csv_path = result.save(tmp_path)
    assert (json_path.name, csv_path.name) == ("adam-seed0.json", "adam-seed0.csv")

    saved = json.loads(json_path.read_text())
    assert saved["config"] == {
        "data": "digits",
        "model": "mlp",
        "optimizer": "adam",
        "lr": None,
        "epochs": 3,
        "batch_size": 32,
        "seed": 0,
        "schedule": "constant",
        "validation": 0.2,
        "train_limit": 600,
    }
    assert saved["lr"] == 0.001
    assert saved["engine"].startswith("adamkit")
    assert saved["param_groups"][0]["tensors"] == 4 and saved["param_groups"][0]["values"] == 9610
    assert saved["test_accuracy"] == result.test_accuracy
    assert [r["train_loss"] for r in saved["history"]] == [r.train_loss for r in result.history]
    assert saved["train_size"] == 600

    with csv_path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == EPOCH_COLUMNS
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [float(r["val_accuracy"]) for r in rows] == [r.val_accuracy for r in result.history]


def test_a_diverged_run_saves_null_not_nan(digits, tmp_path):
    result = train(replace(BASE, optimizer="sgd", lr=1e30, epochs=1), digits)
    assert math.isnan(result.history[0].train_loss)
    saved = json.loads(result.save(tmp_path)[0].read_text())  # strict JSON: no NaN token
    assert saved["history"][0]["train_loss"] is None


def test_progress_bar_counts_every_batch(digits):
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(file=open("/dev/null", "w"))) as progress:  # noqa: SIM115
        seen = []
        original = progress.advance
        progress.advance = lambda task, advance=1: (seen.append(task), original(task, advance))
        train(replace(BASE, epochs=2), digits, progress=progress)
    assert len(seen) == 2 * math.ceil(600 / 32)
    assert progress.tasks == []  # the run's bar is removed when it ends


@pytest.mark.slow
def test_fashion_mnist_one_short_epoch_adamkit_equals_torch():
    """Real data, kept short for CI: one epoch on 3,000 Fashion-MNIST images (skipped without the files)."""
    from adamkit.data import DataError

    config = RunConfig(data="fashion-mnist", model="mlp", optimizer="adam", epochs=1, train_limit=3000)
    try:
        data = load_tensors(config)
    except DataError as error:
        pytest.skip(f"Fashion-MNIST files not available: {error}")
    assert data.input_shape == (1, 28, 28) and len(data.x_test) == 10_000
    ours = train(config, data)
    peer = train(replace(config, optimizer="torch-adam"), data)
    assert losses(ours) == pytest.approx(losses(peer), abs=1e-5, rel=0)
    assert ours.test_accuracy > 0.65  # measured 0.72 (chance: 0.10)
