"""What each rank runs in tests/test_distributed.py: real torch.distributed (gloo on 127.0.0.1).

Starting a process that imports torch costs seconds, so each job runs many checks and
rank 0 saves what it measured (``torch.save``) for the test to judge. Gradients are set
directly (the same global tensor on every rank, each rank keeping its shard:
``distribute_tensor``), so that one process given the same gradients must store the
same bits; the training check goes through ``backward`` and FSDP2's reduce-scatter.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import socket
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import adamkit.torch as ak
from adamkit.torch.lowbit import full_precision_state_dict

TIMEOUT = timedelta(seconds=90)  # a rank that hangs fails the job instead of the test run

#: (optimizer, arguments): every family, the fused ones and those on the reference engine
FAMILIES = [
    ("Adam", {"lr": 1e-2}),
    ("AdamW", {"lr": 1e-2, "amsgrad": True}),
    ("NAdam", {"lr": 1e-2}),
    ("RAdam", {"lr": 1e-2}),
    ("Adamax", {"lr": 1e-2}),
    ("SGD", {"lr": 1e-2, "momentum": 0.9}),
    ("RMSprop", {"lr": 1e-3, "momentum": 0.5}),
    ("Adagrad", {"lr": 1e-2}),
    ("Adadelta", {"lr": 1.0}),
    ("SWATS", {"lr": 1e-2}),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(job: str, world: int, out: Path, **kwargs) -> dict:
    """Run ``job`` on ``world`` ranks; rank 0's results."""
    mp.spawn(_main, args=(job, world, free_port(), str(out), kwargs), nprocs=world, join=True)
    return torch.load(out / f"{job}{world}.pt", weights_only=False)


def _main(rank: int, job: str, world: int, port: int, out: str, kwargs: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=TIMEOUT)
    torch.set_num_threads(1)
    try:
        results = JOBS[job](rank, world, Path(out), **kwargs)
        if rank == 0:
            torch.save(results, Path(out) / f"{job}{world}.pt")
    finally:
        dist.destroy_process_group()


def mlp() -> torch.nn.Module:
    """Tensors of every kind: 8-bit with whole blocks per row (18 x 256, 10 x 512: uneven shards on
    4 ranks), rows that are not whole blocks (512 x 18: float32 moments when sharded), a 1-D
    tensor of 5000 values (float32 moments when sharded), small ones (float32 moments at 8 bits
    everywhere; 3 rows: an empty shard on 4 ranks)."""
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(256, 18),
        torch.nn.Tanh(),
        torch.nn.Linear(18, 512),
        torch.nn.Tanh(),
        torch.nn.Linear(512, 10),
        torch.nn.Linear(10, 3),
        Scale(5000),
    )


class Scale(torch.nn.Module):
    """Multiplies by the mean of a long 1-D parameter."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(1 + 0.1 * torch.randn(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight.mean()


def one_process_groups(params: list[torch.Tensor], bits: int) -> list[dict]:
    """One process's groups for ``bits``: what FSDP2 keeps in float32 (rows not whole 8-bit
    blocks, 1-D tensors) in a group of its own, so the two store the same precision."""
    aligned = [p for p in params if p.dim() == 2 and p.shape[1] % 256 == 0]
    others = [p for p in params if not any(p is q for q in aligned)]
    return [{"params": aligned}, {"params": others, "state_bits": 32 if bits == 8 else bits}]


def set_grads(sharded: list, plain: list, step: int) -> None:
    from torch.distributed.tensor import distribute_tensor

    g = torch.Generator().manual_seed(1000 + step)
    for p, q in zip(sharded, plain, strict=True):
        grad = torch.randn(q.shape, generator=g) * 0.1
        q.grad = grad.clone()
        if p is not None:
            # every rank made the same global gradient: each keeps its shard, no scatter from rank 0
            p.grad = distribute_tensor(grad, p.device_mesh, p.placements, src_data_rank=None)


def full_state(opt: torch.optim.Optimizer, param: torch.Tensor) -> dict:
    return {
        k: (v.full_tensor() if hasattr(v, "full_tensor") else v).reshape(-1).clone()
        for k, v in opt.state[param].items()
    }


def fsdp_families(rank: int, world: int, out: Path, steps: int = 2, names: tuple = ()) -> dict:
    """Every family (or those ``names``) at 32/16/8 bits under FSDP2 against one process given
    the same gradients."""
    from torch.distributed.fsdp import fully_shard

    results = {}
    for name, kwargs in FAMILIES:
        if names and name not in names:
            continue
        for bits in (32, 16, 8):
            model, plain = mlp(), mlp()
            fully_shard(model)
            opt = getattr(ak, name)(model.parameters(), state_bits=bits, **kwargs)
            groups = one_process_groups(list(plain.parameters()), bits)
            ref = getattr(ak, name)(groups, state_bits=bits, **kwargs)
            for step in range(steps):
                set_grads(list(model.parameters()), list(plain.parameters()), step)
                opt.step()
                ref.step()
            diffs = {}
            for p, q in zip(model.parameters(), plain.parameters(), strict=True):
                diffs[tuple(q.shape)] = {
                    "param": (p.full_tensor() - q).abs().max().item(),
                    "state": compare_state(full_state(opt, p), full_state(ref, q)),
                    "keys": sorted(opt.state[p]),
                    "not_sharded": sorted(  # arrays not DTensors (0-dim scalars are plain, as torch's)
                        k for k, v in opt.state[p].items() if v.dim() and not hasattr(v, "full_tensor")
                    ),
                }
            engines = sorted({opt.engine_of(p) for p in model.parameters()})
            results[name, bits] = {"diffs": diffs, "engine": opt.engine, "engines": engines}
    return results


def compare_state(a: dict, b: dict) -> dict | str:
    """Per key, the largest difference between two states of the same keys (a message if the keys differ)."""
    if sorted(a) != sorted(b):
        return f"keys {sorted(a)} != {sorted(b)}"
    out = {}
    for key in a:
        x, y = a[key], b[key]
        out[key] = (x.double() - y.double()).abs().max().item() if x.numel() else 0.0
    return out


def fsdp_training(rank: int, world: int, out: Path, steps: int = 4) -> dict:
    """FSDP2 through backward (reduce-scatter of the gradients) against one process on the
    same global batches; SWATS until it switches (its sums over shards); DDP and ZeRO."""
    from torch.distributed.fsdp import fully_shard

    results = {}
    for name, bits in [("AdamW", 32), ("AdamW", 16), ("AdamW", 8), ("SGD", 8)]:
        model, plain = mlp(), mlp()
        fully_shard(model)
        kwargs = {"lr": 1e-3, "momentum": 0.9} if name == "SGD" else {"lr": 1e-3}
        opt = getattr(ak, name)(model.parameters(), state_bits=bits, **kwargs)
        ref = getattr(ak, name)(one_process_groups(list(plain.parameters()), bits), state_bits=bits, **kwargs)
        g = torch.Generator().manual_seed(7)
        for _ in range(steps):
            x = torch.randn(8, 256, generator=g)
            model(x.chunk(world)[rank]).square().mean().backward()
            plain(x).square().mean().backward()
            opt.step()
            ref.step()
            opt.zero_grad()
            ref.zero_grad()
        results["training", name, bits] = max(
            (p.full_tensor() - q).abs().max().item()
            for p, q in zip(model.parameters(), plain.parameters(), strict=True)
        )
    results["swats"] = swats_switch()
    results["ddp"] = ddp(rank, world)
    results["zero"] = zero(rank, world)
    return results


def swats_switch(steps: int = 12) -> dict:
    """SWATS on f(w) = sum(w^2) sharded over the ranks: it switches when the whole tensor's
    projected rate settles, so each rank must see the whole tensor's sums."""
    from torch.distributed.fsdp import fully_shard

    torch.manual_seed(3)
    start = torch.randn(64, 256)
    model, plain = torch.nn.Linear(256, 64, bias=False), torch.nn.Linear(256, 64, bias=False)
    with torch.no_grad():
        model.weight.copy_(start)
        plain.weight.copy_(start)
    fully_shard(model)
    opt, ref = ak.SWATS(model.parameters(), lr=0.01), ak.SWATS(plain.parameters(), lr=0.01)
    for _ in range(steps):
        model.weight.grad = 2 * model.weight.detach()
        plain.weight.grad = 2 * plain.weight.detach()
        opt.step()
        ref.step()
    return {
        "switches": (opt.switches(), ref.switches()),
        "param": (model.weight.full_tensor() - plain.weight).abs().max().item(),
        "engine": opt.engine,
    }


def ddp(rank: int, world: int, steps: int = 3) -> float:
    """adamkit's Adam and torch.optim's, each training a DDP model on the same batches."""
    from torch.nn.parallel import DistributedDataParallel

    models = [DistributedDataParallel(mlp()) for _ in range(2)]
    opts = [ak.Adam(models[0].parameters(), lr=1e-2), torch.optim.Adam(models[1].parameters(), lr=1e-2)]
    g = torch.Generator().manual_seed(11)
    for _ in range(steps):
        x = torch.randn(8, 256, generator=g).chunk(world)[rank]
        for model, opt in zip(models, opts, strict=True):
            model(x).square().mean().backward()
            opt.step()
            opt.zero_grad()
    return max(
        (p - q).abs().max().item()
        for p, q in zip(models[0].parameters(), models[1].parameters(), strict=True)
    )


def zero(rank: int, world: int, steps: int = 3) -> dict:
    """ZeroRedundancyOptimizer over adamkit.torch.Adam (32 and 8 bits) against it over torch.optim.Adam."""
    from torch.distributed.optim import ZeroRedundancyOptimizer
    from torch.nn.parallel import DistributedDataParallel

    out = {}
    for bits in (32, 8):
        models = [DistributedDataParallel(mlp()) for _ in range(2)]
        opts = [
            ZeroRedundancyOptimizer(
                models[0].parameters(), optimizer_class=ak.Adam, lr=1e-2, state_bits=bits
            ),
            ZeroRedundancyOptimizer(models[1].parameters(), optimizer_class=torch.optim.Adam, lr=1e-2),
        ]
        g = torch.Generator().manual_seed(13)
        for _ in range(steps):
            x = torch.randn(8, 256, generator=g).chunk(world)[rank]
            for model, opt in zip(models, opts, strict=True):
                model(x).square().mean().backward()
                opt.step()
                opt.zero_grad()
        opts[0].consolidate_state_dict(to=0)
        saved = opts[0].state_dict() if rank == 0 else None
        out[bits] = {
            "param": max(
                (p - q).abs().max().item()
                for p, q in zip(models[0].parameters(), models[1].parameters(), strict=True)
            ),
            "saved": None if saved is None else sorted(saved["state"][0]),
        }
    return out


def checkpoint_save(rank: int, world: int, out: Path, bits_list=(32, 16, 8), steps: int = 3) -> dict:
    """Train, save with DCP, continue (the uninterrupted run); and the full state dict for torch.optim.
    Also a checkpoint of torch.optim.AdamW trained on the same gradients (``ckpttorch``)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
        get_optimizer_state_dict,
    )
    from torch.distributed.fsdp import fully_shard

    results = {}
    for bits in bits_list:
        model = mlp()
        fully_shard(model)
        opt = ak.AdamW(model.parameters(), lr=1e-2, state_bits=bits)
        params = list(model.parameters())
        for step in range(steps):
            set_grads(params, [p.full_tensor() for p in params], step)
            opt.step()
        state = {"model": get_model_state_dict(model), "optim": get_optimizer_state_dict(model, opt)}
        dcp.save(state, checkpoint_id=out / f"ckpt{bits}")
        # a copy: the full state dict shares the live 0-dim ``step`` tensors, which the next steps change
        options = StateDictOptions(full_state_dict=True)
        full = copy.deepcopy(get_optimizer_state_dict(model, opt, options=options))
        weights = {n: p.full_tensor().clone() for n, p in model.named_parameters()}
        continued = continue_training(model, opt, steps)
        results[bits] = {"continued": continued, "torch": torch_optim_continues(full, weights, steps)}
        results[bits]["full_keys"] = sorted(full["state"]["0.weight"])
    model = mlp()
    fully_shard(model)
    opt = adamw("torch", model.parameters())
    params = list(model.parameters())
    for step in range(steps):
        set_grads(params, [p.full_tensor() for p in params], step)
        opt.step()
    dcp.save({"optim": get_optimizer_state_dict(model, opt)}, checkpoint_id=out / "ckpttorch")
    # one process's 8-bit state (no FSDP, every rank the same): whole-tensor scales (blocks,), and
    # 8-bit moments for the 512 x 18 and 5000 tensors, which FSDP2 keeps in float32
    plain = mlp()
    opt = adamw(8, plain.parameters())
    for step in range(steps):
        set_grads([None] * len(params), list(plain.parameters()), step)
        opt.step()
    dcp.save({"optim": get_optimizer_state_dict(plain, opt)}, checkpoint_id=out / "ckptplain8")
    return results


def adamw(bits: int | str, params) -> torch.optim.Optimizer:
    """adamkit's AdamW at ``bits``, or torch.optim.AdamW for ``bits="torch"``."""
    if bits == "torch":
        return torch.optim.AdamW(params, lr=1e-2)
    return ak.AdamW(params, lr=1e-2, state_bits=bits)


#: (saved, loading) state_bits of the checkpoints loaded across precisions ("torch": torch.optim.AdamW;
#: "plain8": saved at 8 bits by one process without FSDP)
CONVERSIONS = [(32, 8), (8, 32), (16, 8), (8, 16), (32, 16), (16, 32), ("torch", 8), (8, "torch")]
CONVERSIONS += [("plain8", 8), ("plain8", 32)]  # one process's 8-bit checkpoint into FSDP2 state


def checkpoint_convert(rank: int, world: int, out: Path) -> dict:
    """The 2-rank checkpoints loaded on ``world`` ranks into optimizers of other ``state_bits`` through
    StateBitsLoadPlanner: each loaded state, whole (rank 0), for the test to hold against one process."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict, set_optimizer_state_dict
    from torch.distributed.fsdp import fully_shard

    from adamkit.distributed.checkpoint import StateBitsLoadPlanner

    results = {}
    for saved, loading in CONVERSIONS:
        model = mlp()
        fully_shard(model)
        opt = adamw(loading, model.parameters())
        state = {"optim": get_optimizer_state_dict(model, opt)}
        dcp.load(state, checkpoint_id=out / f"ckpt{saved}", planner=StateBitsLoadPlanner())
        set_optimizer_state_dict(model, opt, state["optim"])
        results[saved, loading] = {n: full_state(opt, p) for n, p in model.named_parameters()}
    return results


def conversions_refused(rank: int, world: int, out: Path) -> dict:
    """What a load across precisions that cannot be converted does: without the planner (DCP's own
    missing key), and with it for a parameter not sharded by rows; whether the state changed."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor import Shard, distribute_tensor

    from adamkit.distributed.checkpoint import StateBitsLoadPlanner

    model = mlp()
    fully_shard(model)
    opt = adamw(32, model.parameters())
    state = {"optim": get_optimizer_state_dict(model, opt)}
    before = {n: full_state(opt, p) for n, p in model.named_parameters()}
    results = {"no planner": attempt(lambda: dcp.load(state, checkpoint_id=out / "ckpt8"))}
    after = {n: full_state(opt, p) for n, p in model.named_parameters()}
    same = [torch.equal(before[n][k], after[n][k]) for n in before for k in before[n]]
    results["no planner", "unchanged"] = all(same)
    mesh = init_device_mesh("cpu", (world,))
    column = distribute_tensor(torch.full((18, 256), 7.0), mesh, [Shard(1)])  # tensor parallel: not by rows
    by_columns = {"optim": {"state": {"0.weight": {"exp_avg": column}}}}
    results["columns"] = attempt(
        lambda: dcp.load(by_columns, checkpoint_id=out / "ckpt8", planner=StateBitsLoadPlanner())
    )
    kept = by_columns["optim"]["state"]["0.weight"]["exp_avg"]
    results["columns", "unchanged"] = kept is column and bool((column.full_tensor() == 7).all())
    return results


def long_shards(steps: int = 2) -> dict:
    """The 8-bit reference path (SWATS) on shards of more than 65536 values (decoded a chunk at a
    time) whose rows hold two blocks: the largest difference from one process, per family."""
    from torch.distributed.fsdp import fully_shard

    out = {}
    for name in ("SWATS", "Adadelta"):
        torch.manual_seed(5)
        model, plain = torch.nn.Linear(512, 300, bias=False), torch.nn.Linear(512, 300, bias=False)
        plain.load_state_dict(model.state_dict())
        fully_shard(model)
        opt = getattr(ak, name)(model.parameters(), state_bits=8)
        ref = getattr(ak, name)(plain.parameters(), state_bits=8)
        try:  # an error fails this check only, not the whole job
            for step in range(steps):
                set_grads([model.weight], [plain.weight], step)
                opt.step()
                ref.step()
            out[name] = (model.weight.full_tensor() - plain.weight).abs().max().item()
        except Exception as error:  # noqa: BLE001
            out[name] = repr(error)
    return out


def attempt(load) -> str:
    """The message of the error ``load()`` raises (DCP wraps every rank's in a CheckpointException)."""
    try:
        load()
    except BaseException as error:  # noqa: BLE001 - CheckpointException derives from BaseException
        return str(error)
    return "no error"


def continue_training(model: torch.nn.Module, opt: torch.optim.Optimizer, start: int, steps: int = 3) -> dict:
    params = list(model.parameters())
    for step in range(start, start + steps):
        set_grads(params, [torch.empty(p.shape) for p in params], step)
        opt.step()
    return {n: p.full_tensor().clone() for n, p in model.named_parameters()}


def torch_optim_continues(full: dict, weights: dict, start: int, steps: int = 3) -> dict:
    """torch.optim.AdamW loads the full state dict (moments decoded to float32) and continues."""
    plain = mlp()
    with torch.no_grad():
        for n, p in plain.named_parameters():
            p.copy_(weights[n])
    names = [n for n, _ in plain.named_parameters()]
    converted = full_precision_state_dict(full)
    # get_optimizer_state_dict keys state by parameter name; torch.optim wants indices
    converted["state"] = {names.index(k): v for k, v in converted["state"].items()}
    for group in converted["param_groups"]:
        group["params"] = [names.index(k) for k in group["params"]]
    opt = torch.optim.AdamW(plain.parameters(), lr=1e-2)
    opt.load_state_dict(converted)
    params = list(plain.parameters())
    for step in range(start, start + steps):
        set_grads([None] * len(params), params, step)
        opt.step()
    return {n: p.detach().clone() for n, p in plain.named_parameters()}


def checkpoint_load(rank: int, world: int, out: Path, bits_list=(32, 16, 8), steps: int = 3) -> dict:
    """Load the 2-rank checkpoint on ``world`` ranks (new optimizer, same ``state_bits``) and continue."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import (
        get_model_state_dict,
        get_optimizer_state_dict,
        set_model_state_dict,
        set_optimizer_state_dict,
    )
    from torch.distributed.fsdp import fully_shard

    results = {}
    for bits in bits_list:
        model = mlp()
        fully_shard(model)
        opt = ak.AdamW(model.parameters(), lr=1e-2, state_bits=bits)
        state = {"model": get_model_state_dict(model), "optim": get_optimizer_state_dict(model, opt)}
        dcp.load(state, checkpoint_id=out / f"ckpt{bits}")
        set_model_state_dict(model, state["model"])
        set_optimizer_state_dict(model, opt, state["optim"])
        results[bits] = continue_training(model, opt, steps)
    return results


#: the two-pass kernels (a per-tensor sum between the passes): cautious masking and LAMB's trust ratio
TWO_PASS = [
    ("Lion", {"lr": 1e-2, "cautious": True}),
    ("AdamW", {"lr": 1e-2, "cautious": True}),
    ("AdEMAMix", {"lr": 1e-2, "cautious": True}),
    ("LAMB", {"lr": 1e-2, "weight_decay": 0.1}),
    # factors of rows and columns, which a shard's own sums cannot give: the reference engine runs it
    ("Adafactor", {"lr": 1e-2, "weight_decay": 0.1}),
]


def fsdp_two_pass(rank: int, world: int, out: Path, steps: int = 3, triton: bool = False) -> dict:
    """The two-pass kernels on local shards against the reference engine in one process: the sums
    (agreeing counts, squared norms) and the rescale's size must be the whole tensor's. ``triton``:
    the Triton kernels in their interpreter (``TRITON_INTERPRET``, inherited from the test process)
    step the CPU tensors, their sums all-reduced as tensors, as on CUDA devices."""
    from torch.distributed.fsdp import fully_shard

    from adamkit.torch import fused

    results = {}
    cpu_launcher = fused.LAUNCHERS["cpu"]
    for name, kwargs in TWO_PASS:
        model, plain = mlp(), mlp()
        fully_shard(model)
        opt = getattr(ak, name)(model.parameters(), **kwargs)
        ref = getattr(ak, name)(plain.parameters(), fused=False, **kwargs)
        for step in range(steps):
            set_grads(list(model.parameters()), list(plain.parameters()), step)
            if triton:
                fused.LAUNCHERS["cpu"] = "adamkit.torch.gpu.launch:launch"
            try:
                opt.step()
            finally:
                fused.LAUNCHERS["cpu"] = cpu_launcher
            ref.step()
        worst = max(
            ((p.full_tensor() - q).abs().max() / q.abs().max()).item()
            for p, q in zip(model.parameters(), plain.parameters(), strict=True)
        )
        results[name] = {"param": worst, "engines": sorted({opt.engine_of(p) for p in model.parameters()})}
    return results


def fsdp_schedule_free(steps: int = 4) -> dict:
    """Schedule-Free AdamW's fused kernel on local shards (its averaging sums are host numbers, one per
    tensor) against the reference engine in one process, compared at the average ``x`` (``eval()``)."""
    from torch.distributed.fsdp import fully_shard

    model, plain = mlp(), mlp()
    fully_shard(model)
    kwargs = {"lr": 1e-2, "weight_decay": 0.1, "warmup_steps": 2}
    opt = ak.ScheduleFreeAdamW(model.parameters(), **kwargs)
    ref = ak.ScheduleFreeAdamW(plain.parameters(), fused=False, **kwargs)
    opt.train()
    ref.train()
    for step in range(steps):
        set_grads(list(model.parameters()), list(plain.parameters()), step)
        opt.step()
        ref.step()
    opt.eval()
    ref.eval()
    worst = max(
        ((p.full_tensor() - q).abs().max() / q.abs().max()).item()
        for p, q in zip(model.parameters(), plain.parameters(), strict=True)
    )
    return {"param": worst, "engines": sorted({opt.engine_of(p) for p in model.parameters()})}


def two_ranks(rank: int, world: int, out: Path) -> dict:
    """Everything that runs on 2 ranks, in one job (each process start costs seconds)."""
    triton = importlib.util.find_spec("triton") is not None and os.environ.get("TRITON_INTERPRET") == "1"
    return {
        "two_pass": fsdp_two_pass(rank, world, out),
        "two_pass_triton": fsdp_two_pass(rank, world, out, triton=True) if triton else {},
        "schedule_free": fsdp_schedule_free(),
        "families": fsdp_families(rank, world, out),
        "training": fsdp_training(rank, world, out),
        "checkpoint": checkpoint_save(rank, world, out),
        "converted": checkpoint_convert(rank, world, out),
        "refused": conversions_refused(rank, world, out),
        "long_shards": long_shards(),
    }


def four_ranks(rank: int, world: int, out: Path) -> dict:
    """The 2-rank checkpoint loaded on 4 ranks, and a few families on uneven and empty shards."""
    return {
        "checkpoint": checkpoint_load(rank, world, out),
        "converted": checkpoint_convert(rank, world, out),
        "families": fsdp_families(rank, world, out, names=("Adam", "SWATS")),
    }


JOBS = {
    "two_ranks": two_ranks,
    "four_ranks": four_ranks,
    "fsdp_families": fsdp_families,
    "fsdp_training": fsdp_training,
    "checkpoint_save": checkpoint_save,
    "checkpoint_load": checkpoint_load,
    "checkpoint_convert": checkpoint_convert,
}
JOBS["one_rank"] = lambda rank, world, out: {
    "checkpoint": checkpoint_load(rank, world, out),
    "converted": checkpoint_convert(rank, world, out),
}
