"""Claim 1: bias correction stabilises the first steps.

Adam's moments start at zero, so early on ``m`` and ``v`` are too small by the factors
``1 - beta1**t`` and ``1 - beta2**t``. Dividing them out is the correction. Without the
correction of ``v`` (the smaller factor: 0.001 at step 1) the first updates are up to
``1/sqrt(1 - beta2) ~ 32`` times the learning rate instead of about one; without the
correction of ``m`` they are ten times smaller. We train the MLP with the four combinations
(written out here, since a library Adam always corrects) and record every step's loss and
the root-mean-square update divided by the learning rate.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import torch

from .. import models
from ..runner import RunConfig, load_tensors, loss_and_hits
from .common import DEPENDS, DOES_NOT_HOLD, HOLDS, Scale, Verdict, fmt

KEY = "bias-correction"
TITLE = "Bias correction stabilises the first steps"
SENTENCE = (
    "One of Adam's key features is bias correction, which adjusts the moving averages at the start "
    "of training to prevent initial values from being too small. This adjustment enhances Adam's "
    "stability during the initial stages of training."
)
SOURCE = "adam-keras-mnist.txt"
EXPERIMENT = (
    "The MLP on the training images, batch 32, Adam (lr 1e-3, betas 0.9/0.999) written out four "
    "ways: both corrections, without the correction of m, without that of v, without either; the "
    "same seed, weights and batches; then Adam and the variant without v's correction again at lr 1e-2. "
    "Per step: the training loss and the RMS update / lr."
)
THRESHOLDS = {
    "step_ratio": 3.0,  # the largest uncorrected-v step at least this many times the corrected one's...
    "early_loss_ratio": 1.02,  # ...and its mean loss over the early steps at least 2% higher: unstable
    "early_steps": 50,  # the "first steps" whose loss is averaged
}
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8
#: Adam's default rate, with every variant; and a ten times larger one, with Adam and without v's correction
RATES = (1e-3, 1e-2)
ADAM, NO_V = "corrected (Adam)", "without v correction"
VARIANTS = {  # name -> (correct m, correct v)
    ADAM: (True, True),
    "without m correction": (False, True),
    NO_V: (True, False),
    "without either": (False, False),
}


def run_variant(
    correct_m: bool, correct_v: bool, lr: float, config: RunConfig, data: Any, steps: int
) -> dict[str, list]:
    """Train with Adam's update written out, each correction on or off; per step loss and RMS step / lr."""
    torch.manual_seed(config.seed)
    model = models.build(config.model, data.input_shape, data.num_classes)
    params = [p for p in model.parameters()]
    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    shuffle = torch.Generator().manual_seed(config.seed)
    losses, step_sizes = [], []
    order = torch.randperm(len(data.x_train), generator=shuffle)
    position = 0
    for t in range(1, steps + 1):
        if position + config.batch_size > len(order):
            order, position = torch.randperm(len(data.x_train), generator=shuffle), 0
        batch = order[position : position + config.batch_size]
        position += config.batch_size
        model.zero_grad(set_to_none=True)
        loss, _ = loss_and_hits(model(data.x_train[batch]), data.y_train[batch])
        loss.backward()
        squares, count = 0.0, 0
        with torch.no_grad():
            for p, m_, v_ in zip(params, m, v, strict=True):
                m_.mul_(BETA1).add_(p.grad, alpha=1 - BETA1)
                v_.mul_(BETA2).addcmul_(p.grad, p.grad, value=1 - BETA2)
                m_hat = m_ / (1 - BETA1**t) if correct_m else m_
                v_hat = v_ / (1 - BETA2**t) if correct_v else v_
                update = lr * m_hat / (v_hat.sqrt() + EPS)
                p.sub_(update)
                squares += float((update / lr).square().sum())
                count += update.numel()
        losses.append(loss.item())
        step_sizes.append(math.sqrt(squares / count))
    return {"loss": losses, "step": step_sizes}


def measure(scale: Scale, shared: dict[str, Any]) -> dict[str, Any]:
    config = RunConfig(data=scale.data, model="mlp", train_limit=scale.train_limit)
    data = shared.get("data") or load_tensors(config)
    series = {}
    for lr in RATES:
        for name, flags in VARIANTS.items():
            if lr == RATES[0] or name in (ADAM, NO_V):
                series[f"{name}, lr {lr:g}"] = run_variant(*flags, lr, config, data, scale.steps)
    early = min(THRESHOLDS["early_steps"], scale.steps)
    summary = {
        name: {
            "peak_step": max(s["step"]),
            "early_loss": statistics.fmean(s["loss"][:early]),
            "final_loss": statistics.fmean(s["loss"][-max(1, scale.steps // 10) :]),
        }
        for name, s in series.items()
    }
    return {"series": series, "summary": summary, "early_steps": early, "steps": scale.steps}


def verdict(measured: dict[str, Any]) -> Verdict:
    summary, early = measured["summary"], measured["early_steps"]
    numbers, worse, told = {}, [], []
    for lr in RATES:
        full, no_v = summary[f"{ADAM}, lr {lr:g}"], summary[f"{NO_V}, lr {lr:g}"]
        step_ratio = no_v["peak_step"] / full["peak_step"]
        loss_ratio = no_v["early_loss"] / full["early_loss"]
        numbers[f"lr {lr:g}: peak step ratio"] = step_ratio
        numbers[f"lr {lr:g}: early loss ratio"] = loss_ratio
        if step_ratio >= THRESHOLDS["step_ratio"] and loss_ratio >= THRESHOLDS["early_loss_ratio"]:
            worse.append(lr)
        told.append(
            f"at lr {lr:g} the largest step without v's correction is {fmt(step_ratio)} times Adam's and "
            f"the mean loss of the first {early} steps {fmt(no_v['early_loss'])} "
            f"against {fmt(full['early_loss'])}"
        )
    reason = "; ".join(told) + "."
    if len(worse) == len(RATES):
        return Verdict(
            HOLDS, reason + " Without the correction the first steps are larger and worse.", numbers
        )
    if worse:
        return Verdict(
            f"{DEPENDS} on the learning rate",
            reason + f" The uncorrected steps hurt at lr {', '.join(f'{lr:g}' for lr in worse)} only; at a "
            "small rate they act as a larger rate and even help.",
            numbers,
        )
    return Verdict(
        DOES_NOT_HOLD, reason + " The correction did not make the first steps better here.", numbers
    )


def plot(measured: dict[str, Any], path: Path) -> Path:
    from ..output import save_figure
    from ..report import _pyplot

    pyplot = _pyplot()
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(11, 4))
    for name, s in measured["series"].items():
        steps = range(1, len(s["loss"]) + 1)
        left.plot(steps, s["loss"], label=name, linewidth=1)
        right.plot(steps, s["step"], label=name, linewidth=1)
    left.set(title="training loss per step", xlabel="step", ylabel="loss", yscale="log")
    right.set(title="RMS update / learning rate", xlabel="step", yscale="log")
    right.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    for axis in (left, right):
        axis.grid(alpha=0.3)
    right.legend(fontsize="small")
    figure.tight_layout()
    save_figure(figure, path, dpi=90)
    pyplot.close(figure)
    return path
