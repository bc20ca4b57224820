"""Claim 4: Adam suits sparse gradients.

A bag-of-words classifier over synthetic documents: tokens drawn from a Zipf distribution
(a few common words, many rare ones), and the label carried by rare tokens only, one per
document. A rare token's embedding gets a gradient only in the few batches that hold it;
SGD moves it by ``lr * gradient`` those few times, while AdaGrad and Adam divide by the
token's own gradient history, so rare rows take larger steps. Each optimizer's rate is
chosen on the validation split; the embedding runs with dense and with sparse gradients.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .. import optimizers, tuning
from .common import DEPENDS, DOES_NOT_HOLD, HOLDS, Scale, Verdict, fmt

KEY = "sparse-gradients"
TITLE = "Adam suits sparse gradients"
SENTENCE = "Useful for non-stationary objectives, and very noisy and/or sparse gradients,"
SOURCE = "adam-concepts-pytorch.txt"
EXPERIMENT = (
    "Synthetic documents of 30 tokens from a 5000-word Zipf vocabulary (exponent 1.1); 400 rare words "
    "(ranks 1000-1400) each belong to one of 2 classes and every document holds one of its class. "
    "Model: EmbeddingBag (16 dims, sum) then a linear layer; 5 epochs, batch 32. Each optimizer's "
    "rate chosen on a validation split from 1e-3..1; dense (adamkit) and sparse embedding gradients "
    "(adamkit's Adam, torch.optim's Adagrad and SGD, which take sparse gradients). Test accuracy, 2 seeds."
)
THRESHOLDS = {"margin": 0.02}  # Adam and AdaGrad at least 2 points above SGD: they suit sparse gradients
VOCAB, LENGTH, DIM, CLASSES, EPOCHS, BATCH = 5000, 30, 16, 2, 5, 32
RARE = range(1000, 1400)
GRID = (1e-3, 1e-2, 1e-1, 0.3, 1.0)
NAMES = {  # (kind, optimizer) -> the lab's optimizer name
    ("dense", "adam"): "adam",
    ("dense", "adagrad"): "adagrad",
    ("dense", "sgd"): "sgd",
    ("sparse", "adam"): "adam",
    ("sparse", "adagrad"): "torch-adagrad",
    ("sparse", "sgd"): "torch-sgd",
}
SEEDS = 2


def documents(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` documents (token ids, ``LENGTH`` each) and their labels."""
    generator = torch.Generator().manual_seed(seed)
    ranks = torch.arange(1, VOCAB + 1, dtype=torch.float64)
    zipf = ranks**-1.1
    tokens = torch.multinomial(zipf / zipf.sum(), count * LENGTH, replacement=True, generator=generator)
    tokens = tokens.view(count, LENGTH)
    rare = torch.tensor(list(RARE))
    rare_class = torch.arange(len(rare)) % CLASSES  # a rare word's class
    labels = torch.randint(0, CLASSES, (count,), generator=generator)
    for label in range(CLASSES):
        pool = rare[rare_class == label]
        rows = (labels == label).nonzero()[:, 0]
        tokens[rows, 0] = pool[torch.randint(0, len(pool), (len(rows),), generator=generator)]
    # the other rare words carry no label: drop them from the noise, so that only one class's words occur
    noise = (tokens[:, 1:] >= RARE.start) & (tokens[:, 1:] < RARE.stop)
    tokens[:, 1:][noise] = 0
    return tokens, labels


class BagOfWords(nn.Module):
    def __init__(self, sparse: bool) -> None:
        super().__init__()
        self.embedding = nn.EmbeddingBag(VOCAB, DIM, mode="sum", sparse=sparse)
        self.out = nn.Linear(DIM, CLASSES)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.out(self.embedding(tokens))


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def train(name: str, sparse: bool, lr: float, seed: int, sets: dict[str, Any]) -> tuple[float, float]:
    """Validation and test accuracy after ``EPOCHS`` (NaN for a run whose loss diverged)."""
    torch.manual_seed(seed)
    model = BagOfWords(sparse)
    optimizer = optimizers.make(name, model, lr)
    x, y = sets["train"]
    shuffle = torch.Generator().manual_seed(seed)
    for _ in range(EPOCHS):
        order = torch.randperm(len(x), generator=shuffle)
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x[batch]), y[batch])
            if not torch.isfinite(loss):
                return float("nan"), float("nan")
            loss.backward()
            optimizer.step()
    return accuracy(model, *sets["val"]), accuracy(model, *sets["test"])


def measure(scale: Scale, shared: dict[str, Any]) -> dict[str, Any]:
    count = scale.sparse_documents
    sets = {"train": documents(count, 1), "val": documents(count // 4, 2), "test": documents(count // 4, 3)}
    out: dict[str, Any] = {"documents": count, "runs": {}}
    for (kind, short), name in NAMES.items():
        val = [[train(name, kind == "sparse", lr, 0, sets)[0]] for lr in GRID]
        lr = tuning.choose(GRID, val)
        tests = [train(name, kind == "sparse", lr, seed, sets)[1] for seed in range(SEEDS)]
        out["runs"][f"{short} ({kind})"] = {
            "optimizer": name,
            "lr": lr,
            "val_by_lr": [row[0] for row in val],
            "test": tests,
            "test_mean": statistics.fmean(tests),
        }
    return out


def verdict(measured: dict[str, Any]) -> Verdict:
    runs, margin = measured["runs"], THRESHOLDS["margin"]
    numbers = {key: run["test_mean"] for key, run in runs.items()}
    passes = {}
    for kind in ("dense", "sparse"):
        sgd = runs[f"sgd ({kind})"]["test_mean"]
        passes[kind] = all(runs[f"{o} ({kind})"]["test_mean"] >= sgd + margin for o in ("adam", "adagrad"))
    told = "test accuracy at rates tuned on validation: " + ", ".join(
        f"{key} {fmt(run['test_mean'])} (lr {run['lr']:g})" for key, run in runs.items()
    )
    if all(passes.values()):
        return Verdict(HOLDS, told + f": Adam and AdaGrad beat SGD by {margin * 100:g}+ points.", numbers)
    if not any(passes.values()):
        return Verdict(
            DOES_NOT_HOLD, told + f": Adam and AdaGrad do not beat SGD by {margin * 100:g} points.", numbers
        )
    which = next(kind for kind, ok in passes.items() if ok)
    return Verdict(
        f"{DEPENDS} on the gradient layout", told + f": they beat SGD with {which} gradients only.", numbers
    )


def plot(measured: dict[str, Any], path: Path) -> Path:
    from ..output import save_figure
    from ..report import _pyplot

    pyplot = _pyplot()
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(11, 4))
    keys = list(measured["runs"])
    means = [measured["runs"][k]["test_mean"] for k in keys]
    left.bar(range(len(keys)), means, color=[f"C{i % 3}" for i in range(len(keys))], alpha=0.6)
    for i, k in enumerate(keys):
        tests = measured["runs"][k]["test"]
        left.scatter([i] * len(tests), tests, color="k", s=10, zorder=3)
    left.set_xticks(range(len(keys)), keys, rotation=30, ha="right", fontsize="small")
    left.set(ylabel="test accuracy", ylim=(0.4, 1.0), title="test accuracy at the tuned rate (dot: a seed)")
    for i, k in enumerate(keys):
        right.plot(
            GRID,
            measured["runs"][k]["val_by_lr"],
            marker="o",
            color=f"C{i % 3}",
            linestyle="-" if "dense" in k else "--",
            label=k,
        )
    right.set(xscale="log", xlabel="learning rate", ylabel="validation accuracy", title="the rate search")
    right.legend(fontsize="small")
    for axis in (left, right):
        axis.grid(alpha=0.3)
    figure.tight_layout()
    save_figure(figure, path, dpi=90)
    pyplot.close(figure)
    return path
