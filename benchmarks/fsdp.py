"""FSDP2 on 2 ranks of this CPU: the optimizer step on local shards, and its state per rank.

Each rank holds half of every tensor (``fully_shard``, gloo) of a model-shaped list of
weights (a GPT-2-like stack, float32); gradients are set as DTensors (no forward or
backward: only ``opt.step()`` is timed). The contenders take turns step by step (A B C ...,
the first place rotating each round) after two warm-up steps each; a row reports the
median over rounds of the slower rank's step time (ranks step in lock-step under FSDP),
and the state bytes per parameter on rank 0 (its local shard's state over its local
parameters; the whole model's state per parameter is this times the number of ranks).

Contenders: ``torch.optim.AdamW`` with ``fused=True`` and with ``foreach=True``; adamkit's
``AdamW`` at 32 bits and with 16- and 8-bit state (fused kernels on the local shards).
Target (issue 16): adamkit at least as fast per rank as torch's fused, and 8-bit state
about 2.03 / world bytes per model parameter.

Usage:
    python benchmarks/fsdp.py                  # about 19M parameters, 20 rounds
    python benchmarks/fsdp.py --quick          # about 5M parameters, 5 rounds
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import time
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

WORLD = 2


def contenders() -> dict:
    import adamkit.torch as ak

    return {
        "torch AdamW fused": lambda ps: torch.optim.AdamW(ps, lr=1e-3, fused=True),
        "torch AdamW foreach": lambda ps: torch.optim.AdamW(ps, lr=1e-3, foreach=True),
        "adamkit AdamW": lambda ps: ak.AdamW(ps, lr=1e-3),
        "adamkit AdamW 16-bit": lambda ps: ak.AdamW(ps, lr=1e-3, state_bits=16),
        "adamkit AdamW 8-bit": lambda ps: ak.AdamW(ps, lr=1e-3, state_bits=8),
    }


def model(width: int, layers: int) -> torch.nn.Module:
    """A transformer-shaped stack of weights: per layer a QKV, an output, and two MLP matrices."""
    torch.manual_seed(0)
    blocks = []
    for _ in range(layers):
        blocks += [
            torch.nn.Linear(width, 3 * width),
            torch.nn.Linear(width, width),
            torch.nn.Linear(width, 4 * width),
            torch.nn.Linear(4 * width, width),
            torch.nn.LayerNorm(width),
        ]
    return torch.nn.Sequential(*blocks)


def local_bytes(opt: torch.optim.Optimizer) -> int:
    total = 0
    for state in opt.state.values():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and key != "step":
                local = value.to_local() if hasattr(value, "to_local") else value
                total += local.numel() * local.element_size()
    return total


def rank_main(rank: int, port: int, width: int, layers: int, rounds: int, out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD, timeout=timedelta(seconds=300))
    torch.set_num_threads(1)  # two ranks on two cores
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor import DTensor

    makers = contenders()
    runs = {}
    for name, make in makers.items():
        net = model(width, layers)
        fully_shard(net)
        params = list(net.parameters())
        g = torch.Generator().manual_seed(rank)
        for p in params:
            local = torch.randn(p.to_local().shape, generator=g) * 1e-3
            p.grad = DTensor.from_local(local, p.device_mesh, p.placements, shape=p.shape, stride=p.stride())
        opt = make(params)
        for _ in range(2):
            opt.step()
        runs[name] = (net, opt)
    names = list(runs)
    times = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            opt = runs[name][1]
            dist.barrier()
            start = time.perf_counter()
            opt.step()
            elapsed = torch.tensor(time.perf_counter() - start)
            dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)  # the slower rank sets the pace
            times[name].append(elapsed.item())
    if rank == 0:
        local_params = sum(p.to_local().numel() for p in runs[names[0]][0].parameters())
        total = sum(p.numel() for p in runs[names[0]][0].parameters())
        out.update(
            params=total,
            local=local_params,
            rows=[
                {
                    "name": name,
                    "ms": 1e3 * statistics.median(times[name]),
                    "bytes": local_bytes(runs[name][1]) / local_params,
                    "engine": getattr(runs[name][1], "engine", "torch"),
                }
                for name in names
            ],
        )
    dist.destroy_process_group()


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args()
    width, layers, rounds = (256, 6, 5) if args.quick else (512, 6, 20)
    rounds = args.rounds or rounds
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(rank_main, args=(free_port(), width, layers, rounds, out), nprocs=WORLD)
        result = dict(out)
    date = time.strftime("%Y-%m-%d")
    print(f"FSDP2 optimizer step, {WORLD} ranks (gloo), {date}: {cpu_name()}, {os.cpu_count()} cores")
    millions = result["params"] / 1e6, result["local"] / 1e6
    print(f"{millions[0]:.1f}M parameters, {millions[1]:.1f}M per rank; median of {rounds} rounds")
    print("state: rank 0's bytes per parameter of the whole model (x ranks = bytes per parameter)")
    fused = next(r["ms"] for r in result["rows"] if r["name"] == "torch AdamW fused")
    heads = ("optimizer", "step ms/rank", "vs torch fused", "state B/param/rank")
    print(f"| {heads[0]:<22} | {heads[1]:>12} | {heads[2]:>14} | {heads[3]:>18} |")
    print(f"|{'-' * 24}|{'-' * 13}:|{'-' * 15}:|{'-' * 19}:|")
    for row in result["rows"]:
        ratio, per_rank = fused / row["ms"], row["bytes"] * result["local"] / result["params"]
        print(f"| {row['name']:<22} | {row['ms']:>12.2f} | {ratio:>13.2f}x | {per_rank:>18.2f} |")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
