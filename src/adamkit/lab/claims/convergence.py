"""Claim 6: Adam may fail to converge; AMSGrad fixes it.

Reddi, Kale and Kumar (2018, "On the Convergence of Adam and Beyond") built an online
problem on ``x in [-1, 1]``: the loss is ``1010 x`` at every 101st step and ``-10 x`` at the
others. Over a cycle the sum is ``1010x - 1000x = 10x``, minimal at ``x = -1``. Adam's
``v`` forgets the rare large gradient within a few dozen steps (beta2 = 0.99), so the 100
small steps towards ``+1`` outweigh the one large step back: it settles near ``+1``, the worst
point. AMSGrad keeps the largest ``v`` seen and moves towards ``-1``. Both run here with
adamkit's Adam (``amsgrad=False/True``) and the iterate projected back into ``[-1, 1]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

import adamkit.torch as adamkit_torch

from .common import DEPENDS, DOES_NOT_HOLD, HOLDS, Scale, Verdict, fmt

KEY = "non-convergence"
TITLE = "Adam may fail to converge (AMSGrad)"
SENTENCE = (
    "Non-Convergence in Some Cases: Adam may fail to converge to the global minimum for certain "
    "non-convex problems. Variants like [[AMSGrad]] address this."
)
SOURCE = "adam-notes-pytorch.txt"
EXPERIMENT = (
    "Reddi et al.'s online problem: f_t(x) = 1010 x if t mod 101 = 1, else -10 x, x projected onto "
    "[-1, 1], optimum x = -1. adamkit's Adam and AMSGrad, lr 0.01, betas (0.9, 0.99), from x = 0."
)
THRESHOLDS = {
    "stuck": 1.0,  # Adam's final distance from the optimum at least 1 (it ends on the wrong half)...
    "better_by": 0.5,  # ...and AMSGrad's at least 0.5 closer: the claim holds
}
LR, BETAS = 0.01, (0.9, 0.99)


def gradient(t: int) -> float:
    return 1010.0 if t % 101 == 1 else -10.0


def iterates(amsgrad: bool, steps: int) -> list[float]:
    x = torch.zeros(1, requires_grad=True)
    optimizer = adamkit_torch.Adam([x], lr=LR, betas=BETAS, amsgrad=amsgrad)
    path = []
    for t in range(1, steps + 1):
        x.grad = torch.tensor([gradient(t)])
        optimizer.step()
        with torch.no_grad():
            x.clamp_(-1.0, 1.0)
        path.append(x.item())
    return path


def measure(scale: Scale, shared: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"steps": scale.counterexample_steps}
    for name, amsgrad in (("adam", False), ("amsgrad", True)):
        path = iterates(amsgrad, scale.counterexample_steps)
        every = max(1, len(path) // 2000)  # enough points for the plot
        out[name] = {"final_x": path[-1], "path": path[::every], "every": every}
    return out


def verdict(measured: dict[str, Any]) -> Verdict:
    adam = measured["adam"]["final_x"] + 1.0  # distance from the optimum x = -1
    ams = measured["amsgrad"]["final_x"] + 1.0
    numbers = {"Adam's distance from the optimum": adam, "AMSGrad's distance": ams}
    told = (
        f"after {measured['steps']} steps Adam is at x = {fmt(measured['adam']['final_x'])}, AMSGrad at "
        f"x = {fmt(measured['amsgrad']['final_x'])} (optimum -1)"
    )
    if adam >= THRESHOLDS["stuck"] and ams <= adam - THRESHOLDS["better_by"]:
        return Verdict(
            HOLDS, told + ": Adam ends on the wrong half and AMSGrad goes towards the optimum.", numbers
        )
    if adam >= THRESHOLDS["stuck"]:
        return Verdict(
            f"{DEPENDS} on the variant",
            told + ": Adam fails here, but AMSGrad does not do much better.",
            numbers,
        )
    return Verdict(DOES_NOT_HOLD, told + ": Adam does not fail on this problem here.", numbers)


def plot(measured: dict[str, Any], path: Path) -> Path:
    from ..output import save_figure
    from ..report import _pyplot

    pyplot = _pyplot()
    figure, axis = pyplot.subplots(figsize=(8, 4))
    for name in ("adam", "amsgrad"):
        run = measured[name]
        axis.plot([1 + i * run["every"] for i in range(len(run["path"]))], run["path"], label=name)
    axis.axhline(-1.0, color="grey", linestyle=":", label="optimum x = -1")
    axis.set(xlabel="step", ylabel="x", ylim=(-1.1, 1.1), title="Reddi et al.'s counterexample")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    figure.tight_layout()
    save_figure(figure, path, dpi=90)
    pyplot.close(figure)
    return path
