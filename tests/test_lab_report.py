"""The comparison report: summary numbers, bands, the self-contained page and the folder's files."""

from __future__ import annotations

import base64
import csv
import json
import math
import re
import statistics
from pathlib import Path

import pytest
from rich.console import Console

from adamkit.lab import report
from adamkit.lab.compare import compare
from adamkit.lab.runner import EpochRecord, RunConfig, RunResult

pytestmark = pytest.mark.usefixtures("one_torch_thread")


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def fake_run(optimizer: str, seed: int, test_accuracy: float, epochs: int = 3) -> RunResult:
    """A finished run with made-up, known numbers (no training)."""
    history = [
        EpochRecord(
            epoch=e,
            train_loss=1.0 / (e + seed),
            train_accuracy=0.5 + 0.1 * e + 0.01 * seed,
            val_loss=1.2 / (e + seed),
            val_accuracy=0.45 + 0.1 * e + 0.01 * seed,
            lr=1e-3,
            seconds=0.5,
        )
        for e in range(1, epochs + 1)
    ]
    return RunResult(
        config=RunConfig(optimizer=optimizer, seed=seed, epochs=epochs),
        lr=1e-3 if optimizer != "sgd" else 1e-2,
        optimizer_class="adamkit.torch.Adam",
        engine="adamkit reference",
        state_precision="float32",
        param_groups=[],
        history=history,
        test_loss=1.0 - test_accuracy,
        test_accuracy=test_accuracy,
        seconds=1.0 + seed,
    )


def fake_results() -> list[RunResult]:
    accuracies = {"sgd": [0.80, 0.82, 0.84], "adam": [0.95, 0.96, 0.94], "rmsprop": [0.90, 0.93, 0.91]}
    return [
        fake_run(name, seed, acc) for name, values in accuracies.items() for seed, acc in enumerate(values)
    ]


def write_fake_report(folder: Path) -> Path:
    return report.write_report(fake_results(), folder, "fake / mlp", {"data": "fake"}, ["a note"])


def test_summary_statistics_and_ranking():
    rows = report.summarize(fake_results())
    assert [r.optimizer for r in rows] == ["adam", "rmsprop", "sgd"]
    adam = rows[0]
    assert adam.seeds == 3
    assert adam.test_accuracy_mean == pytest.approx(0.95)
    assert adam.test_accuracy_std == pytest.approx(statistics.stdev([0.95, 0.96, 0.94]))
    assert (adam.test_accuracy_min, adam.test_accuracy_max) == (0.94, 0.96)
    assert adam.test_loss_mean == pytest.approx(0.05)
    assert adam.seconds_mean == pytest.approx(2.0)
    assert adam.val_accuracy_mean == pytest.approx(0.75 + 0.01)  # last epoch, seeds 0..2
    assert rows[2].lr == 1e-2


def test_a_diverged_optimizer_ranks_last():
    runs = [fake_run("adam", 0, 0.9), fake_run("sgd", 0, math.nan), fake_run("adagrad", 0, 0.5)]
    assert [r.optimizer for r in report.summarize(runs)] == ["adam", "adagrad", "sgd"]


def test_one_seed_has_zero_spread():
    (row,) = report.summarize([fake_run("adam", 0, 0.9)])
    assert row.test_accuracy_std == 0.0


def test_band_is_mean_min_max_over_seeds_per_epoch():
    runs = report.by_optimizer(fake_results())["adam"]
    epochs, mean, low, high = report._curve_band(runs, "val_accuracy")
    assert epochs == [1, 2, 3]
    assert mean == pytest.approx([0.56, 0.66, 0.76])
    assert low == pytest.approx([0.55, 0.65, 0.75])
    assert high == pytest.approx([0.57, 0.67, 0.77])


def test_report_folder_contents(tmp_path):
    page = write_fake_report(tmp_path)
    assert page == tmp_path / "report.html"
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {
        "report.html",
        "loss.png",
        "accuracy.png",
        "test_accuracy.png",
        "summary.csv",
        "summary.json",
    }
    for plot in report.PLOTS:
        assert (tmp_path / plot).read_bytes().startswith(PNG_MAGIC)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [row["optimizer"] for row in summary] == ["adam", "rmsprop", "sgd"]
    with (tmp_path / "summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert float(rows[0]["test_accuracy_mean"]) == pytest.approx(0.95)


def test_page_is_self_contained_with_every_plot_inlined(tmp_path):
    page = write_fake_report(tmp_path).read_text()
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert len(sources) == len(report.PLOTS)
    for source, plot in zip(sources, report.PLOTS, strict=True):
        prefix = "data:image/png;base64,"
        assert source.startswith(prefix)
        assert base64.b64decode(source[len(prefix) :]) == (tmp_path / plot).read_bytes()
    # nothing fetched from elsewhere: no scripts, stylesheets, links or remote URLs
    assert not re.search(r"<script|<link|https?://|url\(", page)
    assert "<td>adam</td>" in page and "a note" in page
    assert page.index("<td>adam</td>") < page.index("<td>rmsprop</td>") < page.index("<td>sgd</td>")


def test_compare_on_digits_writes_runs_and_report(tmp_path):
    base = RunConfig(data="digits", model="mlp", epochs=2, train_limit=300)
    console = Console(record=True, width=150)
    result = compare(base, ["adam", "sgd"], 2, tmp_path, console=console, show_progress=False)
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == [f"{n}-seed{s}.{ext}" for n in ("adam", "sgd") for s in (0, 1) for ext in ("csv", "json")]
    assert result.page == tmp_path / "report.html" and result.page.exists()
    assert len(result.results) == 4
    saved = json.loads((tmp_path / "runs" / "sgd-seed1.json").read_text())
    assert saved["config"]["seed"] == 1 and saved["config"]["optimizer"] == "sgd"
    adam = next(row for row in result.summary if row.optimizer == "adam")
    accuracies = [
        json.loads((tmp_path / "runs" / f"adam-seed{s}.json").read_text())["test_accuracy"] for s in (0, 1)
    ]
    assert adam.test_accuracy_mean == pytest.approx(statistics.fmean(accuracies))
    text = console.export_text()
    # what each optimizer runs on is said once (seed 0), nanoGPT-style
    assert text.count("adam: adamkit.torch.Adam, engine") == 1
    assert "group 0: 4 tensors, 9,610 values" in text
