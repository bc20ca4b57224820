"""Issue 15, item 4: a small residual MLP on Fashion-MNIST, Adam lr 1e-2, 8000 steps, at 32/16/8 bits.

The issue's setup was not kept, so this is a reconstruction: Dense 784->128 ReLU, two residual
blocks ``h + Dense(ReLU(Dense(h)))`` of width 128, ReLU, Dense 10; batch 128 drawn from the
60,000 training images (reshuffled each epoch, ~17 epochs), cross-entropy, one torch thread.
The same seed gives the same initial weights and batches at every precision. Prints each run's
test accuracy (10,000 test images); ``--trace`` also every 100 steps from step 6000 on.

    python experiments/bf16_resmlp.py 32:0 16:0 8:0 32:1 ...     # BITS:SEED, one run each
    python experiments/bf16_resmlp.py --trace 16:9
"""

from __future__ import annotations

import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

import adamkit.torch as ak
from adamkit.data import load


class ResidualMLP(nn.Module):
    def __init__(self, width: int = 128, blocks: int = 2) -> None:
        super().__init__()
        self.inp = nn.Linear(784, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width)) for _ in range(blocks)
        )
        self.out = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.inp(x.flatten(1)))
        for block in self.blocks:
            h = h + block(h)
        return self.out(F.relu(h))


def run(
    bits: int, seed: int, steps: int = 8000, batch: int = 128, lr: float = 1e-2, trace: bool = False
) -> float:
    torch.set_num_threads(1)
    ds = load("fashion-mnist", seed=0, validation=0.0)
    x, y = torch.as_tensor(ds.x_train), torch.as_tensor(ds.y_train).long()
    x_test, y_test = torch.as_tensor(ds.x_test), torch.as_tensor(ds.y_test).long()
    torch.manual_seed(seed)
    model = ResidualMLP()
    opt = ak.Adam(model.parameters(), lr=lr, state_bits=bits)
    gen = torch.Generator().manual_seed(seed)
    order, pos = torch.randperm(len(x), generator=gen), 0
    for step in range(1, steps + 1):
        if pos + batch > len(x):
            order, pos = torch.randperm(len(x), generator=gen), 0
        idx = order[pos : pos + batch]
        pos += batch
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if trace and step >= 6000 and step % 100 == 0:
            with torch.no_grad():
                accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
            print(f"  step {step}: test accuracy {accuracy:.4f}", flush=True)
    with torch.no_grad():
        return (model(x_test).argmax(1) == y_test).float().mean().item()


if __name__ == "__main__":
    start = time.time()
    trace = "--trace" in sys.argv[1:]
    for spec in [a for a in sys.argv[1:] if a != "--trace"]:
        bits, seed = map(int, spec.split(":"))
        accuracy = run(bits, seed, trace=trace)
        took = time.time() - start
        print(f"bits={bits} seed={seed} test_accuracy={accuracy:.4f} ({took:.0f} s)", flush=True)
