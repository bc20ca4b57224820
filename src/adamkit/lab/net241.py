"""The PyTorch notes' 2-4-1 network, trained as the article does, with adamkit's Adam beside torch's.

The article (``adam-notes-pytorch.txt``) builds Linear(2, 4), ReLU, Linear(4, 1), a sigmoid and
``nn.BCELoss``, and runs 100 steps of ``optim.Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-8)``,
each on a fresh batch of 100 uniform random inputs with uniform random targets ("dummy" data).
We run that loop from one seed twice, once with :class:`adamkit.torch.Adam` and once with
:class:`torch.optim.Adam` (same weights, same batches), and draw both loss curves. The targets
are noise, so there is nothing to learn: for uniform targets the expected loss of an output
``p`` is ``-(log p + log(1 - p)) / 2``, least at ``p = 0.5`` where it is ``log 2 = 0.693``, and
that is all the loss can approach. What the example shows is the loop, not learning.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

STEPS, BATCH, LR = 100, 100, 1e-3


def article_model() -> nn.Module:
    """The article's SimpleNN: Linear(2, 4), ReLU, Linear(4, 1), sigmoid."""
    return nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1), nn.Sigmoid())


def train_losses(optimizer_class: type, seed: int = 0, steps: int = STEPS) -> list[float]:
    """The article's loop with ``optimizer_class``: the loss of each of its steps."""
    torch.manual_seed(seed)
    model = article_model()
    optimizer = optimizer_class(model.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8)
    criterion = nn.BCELoss()
    data = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        inputs = torch.rand((BATCH, 2), generator=data)
        targets = torch.rand((BATCH, 1), generator=data)
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def reproduce_net_2_4_1(
    out_dir: Path, seed: int = 0, echo: Callable[[str], Any] | None = None
) -> dict[str, Any]:
    """Run the article's loop with adamkit's and torch's Adam; save ``net-2-4-1.png``; return the figures."""
    import adamkit.torch

    from .output import save_figure
    from .report import _pyplot

    ours = train_losses(adamkit.torch.Adam, seed)
    theirs = train_losses(torch.optim.Adam, seed)
    pyplot = _pyplot()
    figure, axis = pyplot.subplots(figsize=(8, 4))
    axis.plot(range(1, STEPS + 1), ours, label="adamkit.torch.Adam")
    axis.plot(range(1, STEPS + 1), theirs, linestyle="--", label="torch.optim.Adam")
    axis.set(
        xlabel="step (a fresh random batch each)", ylabel="BCE loss", title="the 2-4-1 network on dummy data"
    )
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    plot = save_figure(figure, Path(out_dir) / "net-2-4-1.png", dpi=100)
    pyplot.close(figure)
    return {
        "steps": STEPS,
        "first_loss": ours[0],
        "final_loss (adamkit)": ours[-1],
        "final_loss (torch.optim)": theirs[-1],
        "largest loss gap": max(abs(a - b) for a, b in zip(ours, theirs, strict=True)),
        "plot": plot,
    }
