"""Train with adamkit in Lightning: return its optimizer (and a scheduler) from ``configure_optimizers``.

A small MLP tells points of two concentric rings apart. Lightning calls ``opt.step()``
with its closure, zeroes the gradients and steps the scheduler; adamkit's optimizers are
``torch.optim.Optimizer``s, so nothing else changes. Lightning checkpoints hold
``optimizer.state_dict()`` and ``Trainer.fit(ckpt_path=...)`` resumes from them.

    python examples/lightning_module.py --max-epochs 20
    python examples/lightning_module.py --state-bits 8
"""

from __future__ import annotations

import argparse
import math

import lightning as L
import torch
import torch.nn.functional as F

import adamkit.torch as ak


def rings(n: int = 512, seed: int = 0) -> torch.utils.data.TensorDataset:
    """Points on two noisy concentric rings (radius 0.5: label 0, radius 1: label 1)."""
    gen = torch.Generator().manual_seed(seed)
    label = torch.arange(n) % 2
    angle = torch.rand(n, generator=gen) * 2 * math.pi
    radius = 0.5 + 0.5 * label + 0.1 * torch.randn(n, generator=gen)
    return torch.utils.data.TensorDataset(torch.stack([radius * angle.cos(), radius * angle.sin()], 1), label)


class RingClassifier(L.LightningModule):
    def __init__(self, lr: float = 1e-2, state_bits: int = 32, optimizer_class: type = ak.AdamW) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["optimizer_class"])
        self.optimizer_class = optimizer_class  # adamkit's; tests swap in torch.optim.AdamW to compare
        self.net = torch.nn.Sequential(
            torch.nn.Linear(2, 64), torch.nn.Tanh(),
            torch.nn.Linear(64, 64), torch.nn.Tanh(),
            torch.nn.Linear(64, 2),
        )  # fmt: skip
        self.losses: list[float] = []

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        points, labels = batch
        loss = F.cross_entropy(self.net(points), labels)
        self.losses.append(loss.item())
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        extra = {"state_bits": self.hparams.state_bits} if self.optimizer_class is ak.AdamW else {}
        optimizer = self.optimizer_class(self.parameters(), lr=self.hparams.lr, **extra)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.trainer.max_epochs)
        return {"optimizer": optimizer, "lr_scheduler": scheduler}


def main(argv: list[str] | None = None, optimizer_class: type = ak.AdamW) -> tuple[L.Trainer, RingClassifier]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--state-bits", type=int, default=32, choices=(32, 16, 8))
    args = parser.parse_args(argv)
    L.seed_everything(0, verbose=False)
    model = RingClassifier(state_bits=args.state_bits, optimizer_class=optimizer_class)
    loader = torch.utils.data.DataLoader(rings(), batch_size=64, shuffle=True)
    trainer = L.Trainer(
        max_epochs=args.max_epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, loader)
    optimizer = trainer.optimizers[0]
    print(f"optimizer: {type(optimizer).__module__}.{type(optimizer).__name__}")
    print(f"loss: first epoch {sum(model.losses[:8]) / 8:.3f}, last epoch {sum(model.losses[-8:]) / 8:.3f}")
    return trainer, model


if __name__ == "__main__":
    main()
