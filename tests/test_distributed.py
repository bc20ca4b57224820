"""adamkit under real torch.distributed (gloo, 2 and 4 processes on 127.0.0.1): FSDP2, DCP, DDP, ZeRO.

Each spawned job runs many checks (tests/distributed_jobs.py); these tests judge its results:

* FSDP2 (``fully_shard``; parameters, gradients and state are DTensors): every family at 32,
  16 and 8 bits stores the same bits as one process given the same gradients (the kernels
  run on local shards; low-bit blocks and rounding do not depend on the number of ranks),
  on 2 ranks and on 4 (uneven and empty shards); trained through ``backward``, it follows
  one process on the same global batches (float32 rounding; low-bit: close).
* SWATS's sums over the whole tensor are added across the shards: it switches when one
  process does, at the same rate. So are the two-pass kernels' (cautious masking, LAMB).
* DCP: saved on 2 ranks, loaded on 1 and on 4, the run continues exactly as the
  uninterrupted one (low-bit state included: resharding moves whole blocks); the full state
  dict loads into torch.optim.AdamW, which continues as adamkit does at 32 bits.
* DCP across precisions (StateBitsLoadPlanner): the 2-rank checkpoints at 32/16/8 bits,
  torch.optim.AdamW's and one process's 8-bit one, loaded on 2, 1 and 4 ranks into optimizers
  of other ``state_bits`` (and into torch.optim.AdamW), hold the same bits as the same
  checkpoint read whole by torch's ``dcp_to_torch_save`` and loaded in one process with
  ``load_state_dict``; a conversion that cannot run is refused before anything is read.
* DDP and ZeroRedundancyOptimizer over adamkit's Adam equal torch.optim.Adam's.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch

dist = pytest.importorskip("torch.distributed")
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

from distributed_jobs import FAMILIES, adamw, full_state, mlp, one_process_groups, spawn  # noqa: E402

FUSED_AT = {  # the engine each family reports under FSDP2 (those without kernels: the reference)
    **{name: {32: "fused", 16: "fused", 8: "fused"} for name, _ in FAMILIES},
    "Adadelta": {32: "reference", 16: "reference", 8: "reference"},
    "SWATS": {32: "fused", 16: "reference", 8: "reference"},
}


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    return out, spawn("two_ranks", 2, out)


def check_families(results: dict, world: int) -> None:
    for (name, bits), result in results.items():
        assert result["engine"] == FUSED_AT[name][bits], (name, bits, world)
        if name not in ("SWATS", "Adadelta"):  # the kernels really ran on every shard
            assert result["engines"] == ["fused"], (name, bits, world)
        for shape, diff in result["diffs"].items():
            where = (name, bits, shape, world)
            assert diff["param"] == 0, where  # the same bits as one process
            assert isinstance(diff["state"], dict), (where, diff["state"])
            for key, worst in diff["state"].items():
                # SWATS's rate estimate divides two sums over the tensor (p.p / -p.g, the latter near 0
                # for random gradients), added shard by shard: their rounding differs (float32 sums at
                # 16/8 bits, on DTensors), amplified by the division. Every other entry: the same bits.
                rounded = name == "SWATS" and key == "lr_estimate"
                assert worst == 0 or rounded and worst < 1e-2, (where, key, worst)
            assert diff["not_sharded"] == [], where  # state arrays are DTensors sharded like the parameter
        if bits == 8:  # whole blocks per row: 8-bit codes, as in one process
            assert any(k.endswith("_codes") for k in result["diffs"][(18, 256)]["keys"]), (name, world)


def test_fsdp2_every_family_matches_one_process(two):
    _, results = two
    check_families(results["families"], 2)
    eight = results["families"]["Adam", 8]["diffs"]
    assert "exp_avg_codes" in eight[(18, 256)]["keys"]  # whole blocks per row: 8-bit
    assert "exp_avg" in eight[(512, 18)]["keys"]  # rows of 18 values: float32 whatever the ranks
    assert "exp_avg" in eight[(5000,)]["keys"]


def test_fsdp2_two_pass_kernels_sum_over_the_whole_tensor(two):
    """Cautious masking and LAMB on local shards: the counts and norms are added across the ranks and
    the rescale counts the whole tensor (with the shard's size it is off by about the world size)."""
    _, results = two
    # the numba kernels, and the Triton kernels (in their interpreter: their sums stay tensors)
    triton_ran = results["two_pass_triton"] or torch.cuda.is_available()
    assert triton_ran or importlib.util.find_spec("triton") is None
    for name, result in [*results["two_pass"].items(), *results["two_pass_triton"].items()]:
        # Adafactor's shards go to the reference engine, explicitly (engine_of says so)
        assert result["engines"] == ["reference" if name == "Adafactor" else "fused"], name
        assert result["param"] < 1e-6, name  # float32 rounding of the sums and roots only


def test_fsdp2_schedule_free_runs_fused_on_shards(two):
    """Schedule-Free AdamW's fused step on each rank's rows equals one process's reference engine."""
    _, results = two
    assert results["schedule_free"]["engines"] == ["fused"]
    assert results["schedule_free"]["param"] < 1e-6  # float32 rounding only (1.5e-7 measured)


def test_fsdp2_training_follows_one_process(two):
    _, results = two
    training = results["training"]
    assert training["training", "AdamW", 32] < 1e-6
    for key in [("training", "AdamW", 16), ("training", "AdamW", 8), ("training", "SGD", 8)]:
        assert training[key] < 2e-3, key  # low-bit: gradients differ in rounding, codes may flip


def test_swats_sums_over_the_whole_tensor(two):
    swats = two[1]["training"]["swats"]
    sharded, single = swats["switches"]
    assert single[0].switched and sharded[0].switched
    assert sharded[0].step == single[0].step
    assert sharded[0].sgd_lr == pytest.approx(single[0].sgd_lr, rel=1e-9)
    assert swats["param"] < 1e-6
    assert swats["engine"] == "fused"


def test_low_bit_reference_path_on_long_shards(two):
    """8-bit scales of a shard are (rows, row_size / 256): read flat, not by rows (was an error past
    65536 values a shard, the reference path's chunk)."""
    assert two[1]["long_shards"] == {"SWATS": 0.0, "Adadelta": 0.0}


def test_ddp_and_zero_equal_torch_optim(two):
    training = two[1]["training"]
    assert training["ddp"] < 1e-6
    assert training["zero"][32]["param"] < 1e-6
    assert training["zero"][8]["param"] < 1e-2  # 8-bit moments for the 18 x 256 and 10 x 512 weights
    assert training["zero"][8]["saved"] == ["exp_avg_absmax", "exp_avg_codes", "exp_avg_sq_absmax",
                                            "exp_avg_sq_codes", "step"]


def test_full_state_dict_loads_into_torch_optim(two):
    checkpoint = two[1]["checkpoint"]
    assert checkpoint[8]["full_keys"] == ["exp_avg_absmax", "exp_avg_codes", "exp_avg_sq_absmax",
                                          "exp_avg_sq_codes", "step"]
    for bits, tolerance in [(32, 1e-6), (16, 1e-3), (8, 1e-3)]:
        continued, by_torch = checkpoint[bits]["continued"], checkpoint[bits]["torch"]
        for name, value in continued.items():
            assert torch.allclose(by_torch[name], value, rtol=0, atol=tolerance), (bits, name)


@pytest.fixture(scope="module")
def loaded(two):
    """The jobs that load the 2-rank checkpoints on 1 and on 4 ranks, each spawned once."""
    out, cache = two[0], {}

    def on(world: int) -> dict:
        if world not in cache:
            cache[world] = spawn("four_ranks" if world == 4 else "one_rank", world, out)
        return cache[world]

    return on


@pytest.mark.parametrize("world", [1, 4])
def test_checkpoint_of_two_ranks_loads_on(world, two, loaded):
    _, saved = two
    results = loaded(world)
    for bits in (32, 16, 8):
        for name, value in saved["checkpoint"][bits]["continued"].items():
            assert torch.equal(results["checkpoint"][bits][name], value), (world, bits, name)
    if world == 4:
        check_families(results["families"], 4)


def one_process_load(out, saved, loading) -> dict:
    """The DCP checkpoint ``ckpt{saved}`` read whole by torch (``dcp_to_torch_save``) and loaded in
    one process with ``load_state_dict`` (through ``full_precision_state_dict`` for torch.optim):
    each parameter's state, flat."""
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    from adamkit.torch.lowbit import full_precision_state_dict

    whole = out / f"ckpt{saved}.pt"
    if not whole.exists():
        dcp_to_torch_save(out / f"ckpt{saved}", whole)
    optim = torch.load(whole, weights_only=False)["optim"]
    model = mlp()
    params, names = list(model.parameters()), [n for n, _ in model.named_parameters()]
    opt = adamw(loading, params if loading == "torch" else one_process_groups(params, loading))
    index = {id(p): i for i, p in enumerate(params)}
    hyper = {k: v for k, v in optim["param_groups"][0].items() if k != "params"}
    state_dict = {  # keyed by index, the groups as this optimizer's (FSDP2's float32 tensors apart)
        "state": {names.index(n): s for n, s in optim["state"].items()},
        "param_groups": [{**hyper, "params": [index[id(p)] for p in g["params"]]} for g in opt.param_groups],
    }
    opt.load_state_dict(full_precision_state_dict(state_dict) if loading == "torch" else state_dict)
    return {n: full_state(opt, p) for n, p in model.named_parameters()}


@pytest.mark.parametrize("world", [2, 1, 4])
def test_checkpoint_loads_into_other_state_bits(world, two, loaded):
    out, saved = two
    converted = saved["converted"] if world == 2 else loaded(world)["converted"]
    assert len(converted) == 10
    for (was, into), state in converted.items():
        expected = one_process_load(out, was, into)
        for name, keys in expected.items():
            assert sorted(state[name]) == sorted(keys), (world, was, into, name)
            for key, value in keys.items():
                got = state[name][key]
                assert got.dtype == value.dtype and torch.equal(got, value), (world, was, into, name, key)
    # the conversions happened: 8-bit codes from float moments, float32 and bfloat16 from codes
    assert "exp_avg_codes" in converted[32, 8]["0.weight"]
    assert "exp_avg_codes" in converted["torch", 8]["0.weight"]
    assert converted[8, 32]["0.weight"]["exp_avg"].dtype == torch.float32
    assert converted[8, 16]["0.weight"]["exp_avg"].dtype == torch.bfloat16
    assert converted[8, "torch"]["0.weight"]["exp_avg"].dtype == torch.float32
    # one process's whole-tensor scales laid out as FSDP2's (rows, 1); its 8-bit 1-D tensor decoded
    # on shards that start inside a block (2500 of 5000 values on 2 ranks, 1250 on 4)
    assert "exp_avg_codes" in converted["plain8", 8]["0.weight"]
    assert converted["plain8", 8]["6.weight"]["exp_avg"].dtype == torch.float32


def test_a_conversion_that_cannot_run_is_refused_before_reading(two):
    refused = two[1]["refused"]
    # without the planner, DCP asks for the loading optimizer's keys: none are in an 8-bit checkpoint
    assert "Missing key in checkpoint state_dict: optim.state.0.weight.exp_avg" in refused["no planner"]
    assert refused["no planner", "unchanged"]
    # 8-bit codes into a parameter sharded by columns (tensor parallel): refused, naming both precisions
    message = refused["columns"]
    assert "ValueError" in message and "state_bits=8" in message and "state_bits=32" in message, message
    assert "sharded by rows" in message
    assert refused["columns", "unchanged"]


@pytest.mark.parametrize("bits", [32, 8])
def test_engine_of_tells_which_engine_ran_each_parameter(bits):
    """Not distributed: a parameter the kernels cannot take (bfloat16) is named as the reference's."""
    import adamkit.torch as ak

    plain = torch.zeros(5000, requires_grad=True)
    half = torch.zeros(5000, dtype=torch.bfloat16, requires_grad=True)
    opt = ak.Adam([plain, half], state_bits=bits)
    assert opt.engine == "fused" and opt.engine_of(half) == "fused"  # before a step: what it is meant for
    plain.grad, half.grad = torch.ones_like(plain), torch.ones_like(half)
    opt.step()
    assert (opt.engine_of(plain), opt.engine_of(half)) == ("fused", "reference")
