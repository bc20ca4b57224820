"""Train a Hugging Face model with adamkit's AdamW in ``transformers.Trainer``, and resume it.

The Trainer takes any torch optimizer through ``optimizers=(optimizer, scheduler)``; with
``None`` for the scheduler it builds its own (linear decay here) around adamkit's optimizer.
Its checkpoints hold ``optimizer.state_dict()``, so ``resume_from_checkpoint`` continues the
run exactly where it stopped, low-bit state included.

The model is a 2-layer GPT-2 built from a config (no download) learning a synthetic
language: each sequence counts up by a fixed stride, modulo the vocabulary.

    python examples/hf_trainer.py --output-dir /tmp/hf-run                 # train 40 steps
    python examples/hf_trainer.py --output-dir /tmp/hf-run --resume         # from the last checkpoint
    python examples/hf_trainer.py --output-dir /tmp/hf-run --state-bits 8   # 8-bit AdamW state
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

import adamkit.torch as ak

VOCAB, LENGTH = 64, 16


class CountingData(torch.utils.data.Dataset):
    """Sequences ``start, start + stride, ...`` (mod VOCAB): a pattern a tiny model learns in a few steps."""

    def __init__(self, size: int = 512, seed: int = 0) -> None:
        gen = torch.Generator().manual_seed(seed)
        starts = torch.randint(0, VOCAB, (size, 1), generator=gen)
        strides = torch.randint(1, 4, (size, 1), generator=gen)
        self.ids = (starts + strides * torch.arange(LENGTH)) % VOCAB

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}  # the model shifts the labels itself


def tiny_gpt2() -> GPT2LMHeadModel:
    config = GPT2Config(
        vocab_size=VOCAB, n_positions=LENGTH, n_embd=64, n_layer=2, n_head=2,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=VOCAB - 1,
    )  # fmt: skip
    torch.manual_seed(0)
    return GPT2LMHeadModel(config)


def make_trainer(output_dir: str, max_steps: int, state_bits: int) -> Trainer:
    model = tiny_gpt2()
    optimizer = ak.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01, state_bits=state_bits)
    args = TrainingArguments(
        output_dir=output_dir,
        max_steps=max_steps,
        per_device_train_batch_size=16,
        lr_scheduler_type="linear",  # the Trainer's scheduler, built around adamkit's optimizer
        save_steps=max_steps // 2,  # a checkpoint half-way and one at the end
        logging_steps=5,
        report_to="none",
        use_cpu=True,
        seed=0,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    return Trainer(model=model, args=args, train_dataset=CountingData(), optimizers=(optimizer, None))


def main(argv: list[str] | None = None) -> Trainer:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--max-steps", type=int, default=40)
    parser.add_argument("--state-bits", type=int, default=32, choices=(32, 16, 8))
    parser.add_argument(
        "--resume", nargs="?", const=True, default=None, help="a checkpoint folder, or the last one"
    )
    args = parser.parse_args(argv)
    trainer = make_trainer(args.output_dir, args.max_steps, args.state_bits)
    resume = args.resume if args.resume in (None, True) else str(Path(args.resume))
    trainer.train(resume_from_checkpoint=resume)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    optimizer = trainer.optimizer.optimizer  # the Trainer wraps it for accelerate
    print(f"optimizer: {type(optimizer).__name__} (adamkit, engine={optimizer.engine})")
    print("loss every 5 steps:", " ".join(f"{loss:.3f}" for loss in losses))
    return trainer


if __name__ == "__main__":
    main()
