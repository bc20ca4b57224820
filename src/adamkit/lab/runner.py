"""Train one model with one optimizer on one data set, reproducibly, and keep every epoch's scores.

A run is fixed by its :class:`RunConfig`. The seed fixes the weights
(``torch.manual_seed`` before the model is built) and the order of the batches (a
``torch.Generator`` of its own for the shuffles), so two runs with the same config give
the same numbers, and two optimizers run with the same seed see the same weights and
batches: any difference between them is the optimizer's. The data split is the loader's
(its own seed, 0), the same for every run.

Each epoch records the training loss and accuracy (averaged over the epoch's batches, as
Keras reports them), the validation loss and accuracy, and the learning rate; the run ends
with the test loss and accuracy. :meth:`RunResult.save` writes it as JSON and CSV.

>>> result = train(RunConfig(data="digits", model="mlp", optimizer="adam", epochs=2))  # doctest: +SKIP
>>> result.test_accuracy  # doctest: +SKIP
0.93...
"""

from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .. import __version__, schedules
from ..atomic import atomic_open, atomic_write_text
from . import models, optimizers

#: Batches this large are used to score the validation and test sets (no gradients kept).
EVAL_BATCH = 1024


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run's numbers."""

    data: str = "digits"
    model: str = "mlp"
    optimizer: str = "adam"
    lr: float | None = None  # None: the optimizer's default (see adamkit.lab.optimizers)
    epochs: int = 5
    batch_size: int = 32
    seed: int = 0
    schedule: str = "constant"  # an adamkit.schedules.parse spec, stepped once per batch
    validation: float = 0.2  # fraction of the training set held out
    train_limit: int | None = None  # train on the first N training examples only (short checks)

    @property
    def label(self) -> str:
        return f"{self.optimizer}-seed{self.seed}"


@dataclass
class EpochRecord:
    """The scores after one epoch (validation ones are None without a validation set)."""

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    lr: float
    seconds: float


@dataclass
class RunResult:
    """A finished run: its config, what it used, every epoch, and the test score."""

    config: RunConfig
    lr: float  # the base learning rate, before any schedule scales it
    optimizer_class: str
    engine: str
    state_precision: str
    param_groups: list[dict[str, Any]]
    history: list[EpochRecord] = field(default_factory=list)
    test_loss: float = math.nan
    test_accuracy: float = math.nan
    seconds: float = 0.0
    train_size: int = 0
    val_size: int = 0
    test_size: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (NaN, from a diverged run, becomes None)."""
        data = asdict(self)
        data["adamkit_version"] = __version__
        data["torch_version"] = torch.__version__
        return _finite_or_none(data)

    def save(self, folder: Path) -> tuple[Path, Path]:
        """Write ``<optimizer>-seed<k>.json`` (everything) and ``.csv`` (one row per epoch), each whole
        or not at all."""
        folder.mkdir(parents=True, exist_ok=True)
        json_path = folder / f"{self.config.label}.json"
        csv_path = folder / f"{self.config.label}.csv"
        atomic_write_text(json_path, json.dumps(self.to_dict(), indent=2) + "\n")
        with atomic_open(csv_path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(EPOCH_COLUMNS))
            writer.writeheader()
            writer.writerows(_finite_or_none(asdict(record)) for record in self.history)
        return json_path, csv_path


EPOCH_COLUMNS = tuple(EpochRecord.__dataclass_fields__)


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    return value


@dataclass
class Tensors:
    """A data set as tensors, ready for batching."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    input_shape: tuple[int, ...]
    num_classes: int

    @classmethod
    def from_dataset(cls, ds: Any, train_limit: int | None = None) -> Tensors:
        """Wrap an :func:`adamkit.data.load` result (NumPy arrays) without copying them."""
        limit = slice(None, train_limit)
        return cls(
            torch.as_tensor(ds.x_train[limit]),
            torch.as_tensor(ds.y_train[limit]),
            torch.as_tensor(ds.x_val),
            torch.as_tensor(ds.y_val),
            torch.as_tensor(ds.x_test),
            torch.as_tensor(ds.y_test),
            tuple(ds.input_shape),
            int(ds.num_classes),
        )


def load_tensors(config: RunConfig) -> Tensors:
    """Load ``config.data`` with the loader's fixed split seed and ``config.validation``."""
    from ..data import load

    return Tensors.from_dataset(load(config.data, seed=0, validation=config.validation), config.train_limit)


def loss_and_hits(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean loss and the number of right answers: softmax cross-entropy, or a sigmoid for one output."""
    if logits.shape[1] == 1:
        scores = logits[:, 0]
        loss = F.binary_cross_entropy_with_logits(scores, labels.to(scores.dtype))
        hits = ((scores > 0).long() == labels).sum()
    else:
        loss = F.cross_entropy(logits, labels)
        hits = (logits.argmax(dim=1) == labels).sum()
    return loss, hits


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float | None, float | None]:
    """Mean loss and accuracy of ``model`` on ``(x, y)``; ``(None, None)`` for an empty set."""
    if len(x) == 0:
        return None, None
    model.eval()
    total_loss, total_hits = 0.0, 0
    for start in range(0, len(x), EVAL_BATCH):
        xb, yb = x[start : start + EVAL_BATCH], y[start : start + EVAL_BATCH]
        loss, hits = loss_and_hits(model(xb), yb)
        total_loss += loss.item() * len(xb)
        total_hits += int(hits)
    return total_loss / len(x), total_hits / len(x)


def train(
    config: RunConfig,
    data: Tensors | None = None,
    progress: Any | None = None,
    say: Any | None = None,
    on_end: Any | None = None,
) -> RunResult:
    """Train ``config.model`` with ``config.optimizer``; return every epoch's scores and the test score.

    Args:
        config: the run.
        data: the data set as :class:`Tensors` (loaded from ``config.data`` if None;
            pass it to share one load between runs).
        progress: a ``rich.progress.Progress`` to show the batches in, or None.
        say: a function to print what the run uses (engine, state precision, groups), or None.
        on_end: a function called with the optimizer after the last step (to read its state,
            such as SWATS's switch), or None.
    """
    data = data if data is not None else load_tensors(config)
    torch.manual_seed(config.seed)
    model = models.build(config.model, data.input_shape, data.num_classes)
    optimizer = optimizers.make(config.optimizer, model, config.lr)
    if say is not None:
        for line in optimizers.describe(config.optimizer, optimizer):
            say(line)
    base_lr = float(optimizer.param_groups[0]["lr"])  # before the schedule scales it
    steps_per_epoch = math.ceil(len(data.x_train) / config.batch_size)
    schedule = schedules.parse(config.schedule, config.epochs * steps_per_epoch, steps_per_epoch)
    scheduler = schedules.to_torch(schedule, optimizer)
    shuffle = torch.Generator().manual_seed(config.seed)

    cls = type(optimizer)
    result = RunResult(
        config=config,
        lr=base_lr,
        optimizer_class=f"{cls.__module__}.{cls.__qualname__}",
        engine=optimizers.engine_of(optimizer),
        state_precision=optimizers.state_precision_of(optimizer),
        param_groups=optimizers.describe_groups(optimizer),
        train_size=len(data.x_train),
        val_size=len(data.x_val),
        test_size=len(data.x_test),
    )
    task = None
    if progress is not None:
        task = progress.add_task(config.label, total=config.epochs * steps_per_epoch)
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        epoch_started = time.perf_counter()
        lr = float(optimizer.param_groups[0]["lr"])
        model.train()
        if hasattr(optimizer, "train"):  # Schedule-Free: the parameters back at the gradient point
            optimizer.train()
        order = torch.randperm(len(data.x_train), generator=shuffle)
        total_loss, total_hits = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss, hits = loss_and_hits(model(data.x_train[batch]), data.y_train[batch])
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += loss.item() * len(batch)
            total_hits += int(hits)
            if task is not None:
                progress.advance(task)
        if hasattr(optimizer, "eval"):  # Schedule-Free: evaluate (and test) the average
            optimizer.eval()
        val_loss, val_accuracy = evaluate(model, data.x_val, data.y_val)
        result.history.append(
            EpochRecord(
                epoch=epoch,
                train_loss=total_loss / len(order),
                train_accuracy=total_hits / len(order),
                val_loss=val_loss,
                val_accuracy=val_accuracy,
                lr=lr,
                seconds=time.perf_counter() - epoch_started,
            )
        )
    result.test_loss, result.test_accuracy = evaluate(model, data.x_test, data.y_test)
    if on_end is not None:
        on_end(optimizer)
    result.seconds = time.perf_counter() - started
    if task is not None:
        progress.remove_task(task)
    return result
