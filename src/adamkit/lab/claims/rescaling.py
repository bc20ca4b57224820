"""Claim 2: Adam is invariant to a diagonal rescaling of the gradients.

Multiply each gradient coordinate ``i`` by a fixed factor ``c_i``: Adam's ``m_i`` scales by
``c_i`` and ``sqrt(v_i)`` by ``|c_i|``, so the update ``m/sqrt(v)`` is unchanged (up to ``eps``),
while SGD's update scales by ``c_i``. We run both on a logistic regression, once on the true
gradients and once on rescaled ones (factors log-uniform in [1e-3, 1e3]), and measure how far
the rescaled path strays from the true one, relative to the length the true path travels.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from .. import optimizers
from .common import DOES_NOT_HOLD, HOLDS, Scale, Verdict, finite_or_inf, fmt

KEY = "diagonal-rescaling"
TITLE = "Adam is invariant to a diagonal rescaling of the gradients"
SENTENCE = "Adam is invariant to diagonal rescale of the gradients,"
SOURCE = "adam-concepts-pytorch.txt"
EXPERIMENT = (
    "A logistic regression on 512 synthetic examples of 20 features (full batch, 300 steps), trained "
    "by Adam (lr 0.01) and SGD (lr 0.1) on the true gradients, then with each gradient coordinate "
    "multiplied by a fixed random factor, log-uniform in [1e-3, 1e3]. Distance: the largest gap "
    "between the two paths over the steps, divided by the largest distance the true path moved "
    "from its start."
)
THRESHOLDS = {
    "adam_distance": 0.01,  # Adam's rescaled path within 1% of its true path...
    "sgd_factor": 10.0,  # ...and SGD's at least ten times farther off than Adam's
}
RATES = {"adam": 0.01, "sgd": 0.1}
FEATURES, EXAMPLES, STEPS = 20, 512, 300


def problem(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Features, labels, and the fixed rescaling factors."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(EXAMPLES, FEATURES, generator=generator)
    truth = torch.randn(FEATURES, generator=generator)
    y = (x @ truth + 0.5 * torch.randn(EXAMPLES, generator=generator) > 0).float()
    factors = 10 ** (torch.rand(FEATURES, generator=generator) * 6 - 3)
    return x, y, factors


def path(name: str, x: torch.Tensor, y: torch.Tensor, factors: torch.Tensor | None) -> torch.Tensor:
    """The weights after each step (steps + 1 rows), gradients multiplied by ``factors`` if given."""
    model = torch.nn.Linear(FEATURES, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    optimizer = optimizers.make(name, model, RATES[name])
    points = [model.weight.detach().clone().view(-1)]
    for _ in range(STEPS):
        optimizer.zero_grad()
        F.binary_cross_entropy_with_logits(model(x)[:, 0], y).backward()
        if factors is not None:
            model.weight.grad.mul_(factors)
        optimizer.step()
        points.append(model.weight.detach().clone().view(-1))
    return torch.stack(points)


def measure(scale: Scale, shared: dict[str, Any]) -> dict[str, Any]:
    x, y, factors = problem()
    out: dict[str, Any] = {"factors_min": float(factors.min()), "factors_max": float(factors.max())}
    for name in RATES:
        true, rescaled = path(name, x, y, None), path(name, x, y, factors)
        gap = (rescaled - true).norm(dim=1)
        travelled = float((true - true[0]).norm(dim=1).max())
        out[name] = {
            "gap": [float(g) / travelled for g in gap],
            "distance": float(gap.max()) / travelled if bool(gap.isfinite().all()) else math.inf,
        }
    return out


def verdict(measured: dict[str, Any]) -> Verdict:
    adam, sgd = finite_or_inf(measured["adam"]["distance"]), finite_or_inf(measured["sgd"]["distance"])
    numbers = {"Adam's relative distance": adam, "SGD's relative distance": sgd}
    told = (
        f"with gradients rescaled by factors in "
        f"[{fmt(measured['factors_min'])}, {fmt(measured['factors_max'])}] "
        f"Adam's path stays within {fmt(adam)} of its true path (relative), SGD's strays {fmt(sgd)}"
    )
    if adam <= THRESHOLDS["adam_distance"] and sgd >= THRESHOLDS["sgd_factor"] * adam:
        return Verdict(HOLDS, told + ".", numbers)
    return Verdict(
        DOES_NOT_HOLD,
        told + f": Adam's path moved more than {THRESHOLDS['adam_distance']:g}, or SGD's did not move "
        f"{THRESHOLDS['sgd_factor']:g} times more.",
        numbers,
    )


def plot(measured: dict[str, Any], path_: Path) -> Path:
    from ..output import save_figure
    from ..report import _pyplot

    pyplot = _pyplot()
    figure, axis = pyplot.subplots(figsize=(8, 4))
    for name in RATES:
        gaps = [g if math.isfinite(g) and g > 0 else float("nan") for g in measured[name]["gap"]]
        axis.plot(range(len(gaps)), gaps, label=f"{name} (lr {RATES[name]:g})")
    axis.axhline(THRESHOLDS["adam_distance"], color="grey", linestyle=":", label="Adam's threshold")
    axis.set(
        yscale="log",
        xlabel="step",
        ylabel="distance from the unscaled path (relative)",
        title="rescaled gradients: how far each optimizer's path strays",
    )
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    figure.tight_layout()
    save_figure(figure, path_, dpi=90)
    pyplot.close(figure)
    return path_
