"""FSDP2 training of a small transformer with adamkit's 8-bit AdamW, saved and resumed with DCP.

Run on one machine with two processes (gloo on the CPU, NCCL where there are GPUs)::

    torchrun --nproc-per-node 2 examples/fsdp2_train.py --steps 40 --checkpoint /tmp/ckpt

Each rank holds half of every weight (``fully_shard``) and half of its optimizer state:
8-bit moments cost about 2.03 bytes per parameter, so 1.02 per parameter on each of two
ranks. The model learns a fixed next-token rule on synthetic sequences (no download).
Run it again with ``--resume`` and the same ``--checkpoint``: it continues from the saved
weights and optimizer state, on any number of processes, at any ``--state-bits`` (a checkpoint
saved at 8 bits loads into 32- or 16-bit state and back: ``StateBitsLoadPlanner`` converts it).
"""

from __future__ import annotations

import argparse
import os

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict
from torch.distributed.fsdp import fully_shard

import adamkit.torch as ak
from adamkit.distributed.checkpoint import StateBitsLoadPlanner

VOCAB, WIDTH, LENGTH = 64, 256, 32


class TinyLM(torch.nn.Module):
    """Embedding, two transformer encoder layers (causal), and a head tied to nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, WIDTH)
        layer = torch.nn.TransformerEncoderLayer(WIDTH, nhead=4, dim_feedforward=2 * WIDTH, batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.head = torch.nn.Linear(WIDTH, VOCAB)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Next-token logits, one row per position: shape (batch * length, VOCAB)."""
        mask = torch.nn.Transformer.generate_square_subsequent_mask(tokens.shape[1], device=tokens.device)
        hidden = self.encoder(self.embed(tokens), mask=mask, is_causal=True)
        return self.head(hidden.reshape(-1, WIDTH))  # 2-D: a fresh tensor (FSDP2 warns of views)


def batch(step: int, rank: int, world: int, size: int, device: torch.device) -> torch.Tensor:
    """This rank's share of the global batch of ``step``: sequences following t -> 5t + 3 mod VOCAB."""
    g = torch.Generator().manual_seed(step)
    start = torch.randint(0, VOCAB, (size, 1), generator=g)
    tokens = start
    for _ in range(LENGTH):
        tokens = torch.cat([tokens, (5 * tokens[:, -1:] + 3) % VOCAB], dim=1)
    return tokens.chunk(world)[rank].to(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=16, help="global batch (split over the ranks)")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--checkpoint", help="folder for the DCP checkpoint (saved at the end)")
    parser.add_argument("--resume", action="store_true", help="load --checkpoint first")
    parser.add_argument("--state-bits", type=int, default=8, choices=(32, 16, 8), help="optimizer state")
    args = parser.parse_args()

    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda") if cuda else torch.device("cpu")

    torch.manual_seed(0)  # the same initial weights on every rank
    model = TinyLM().to(device)
    for layer in model.encoder.layers:
        fully_shard(layer)
    fully_shard(model)
    opt = ak.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, state_bits=args.state_bits)

    start = 0
    if args.resume:
        model_state, optim_state = get_state_dict(model, opt)
        state = {"model": model_state, "optim": optim_state, "step": torch.tensor(0)}
        # the planner converts moments saved at another state_bits (without it: same state_bits only)
        dcp.load(state, checkpoint_id=args.checkpoint, planner=StateBitsLoadPlanner())
        set_state_dict(model, opt, model_state_dict=state["model"], optim_state_dict=state["optim"])
        start = int(state["step"])

    for step in range(start, start + args.steps):
        tokens = batch(step, rank, world, args.batch, device)
        logits = model(tokens[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits, tokens[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad()
        loss = loss.detach()
        dist.all_reduce(loss)
        if rank == 0 and (step % 10 == 0 or step == start + args.steps - 1):
            print(f"step {step:4d}  loss {loss.item() / world:.4f}", flush=True)

    if rank == 0:
        state_bytes = sum(
            v.to_local().nbytes for s in opt.state.values() for k, v in s.items() if k != "step"
        )
        local = sum(p.to_local().numel() for p in model.parameters())
        per_param = state_bytes / local
        print(f"engine {opt.engine}; optimizer state on rank 0: {per_param:.2f} bytes per local parameter")
    if args.checkpoint:
        model_state, optim_state = get_state_dict(model, opt)
        state = {"model": model_state, "optim": optim_state, "step": torch.tensor(start + args.steps)}
        dcp.save(state, checkpoint_id=args.checkpoint)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
