"""The fused engine checks a parameter in full once, then trusts the checks while nothing was swapped.

Each test runs the fused and the reference engine side by side on the same parameters and
gradients, makes the same change to both between two steps (a parameter moved to new
memory, a state tensor replaced or re-pointed, a step count rewritten in place, a flag
toggled, a strided gradient, a loaded state_dict), and requires the same results: a stale
record would write through an old address or read an old step count. A steady run must
run the full checks once per parameter, not once per step.
"""

from __future__ import annotations

import gc
import weakref

import pytest
import torch

import adamkit.torch
from adamkit.torch import fused
from harness import rel_diff

pytestmark = pytest.mark.skipif(
    fused.kernel_for(adamkit.torch.Adam.rule) is None, reason="numba is not installed"
)

SHAPES = [(5, 4), (7,), (3, 3, 2)]


def _params() -> list[torch.nn.Parameter]:
    gen = torch.Generator().manual_seed(11)
    return [torch.nn.Parameter(torch.randn(shape, generator=gen)) for shape in SHAPES]


def _grads(params, step: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(100 + step)
    return [0.5 * p.detach() + 0.3 * torch.randn(p.shape, generator=gen) for p in params]


def _side_by_side(algo: str, kwargs: dict, steps: int, change=None):
    """Both engines for ``steps`` steps; ``change(opt, params, step)`` runs before each step on both."""
    runs = []
    for fused_flag in (None, False):
        params = _params()
        opt = getattr(adamkit.torch, algo)(params, fused=fused_flag, **kwargs)
        for step in range(steps):
            for p, g in zip(params, _grads(params, step), strict=True):
                p.grad = g
            if change is not None:
                change(opt, params, step)
            opt.step()
        runs.append((params, opt))
    return runs


def _assert_same(runs) -> None:
    (pa, a), (pb, b) = runs
    assert a.engine == "fused" and b.engine == "reference"
    for x, y in zip(pa, pb, strict=True):
        assert rel_diff(x.detach(), y.detach()) <= 1e-6
        assert a.state[x].keys() == b.state[y].keys()
        for key, value in b.state[y].items():
            if isinstance(value, torch.Tensor):
                assert rel_diff(a.state[x][key], value) <= 1e-6, key


def test_a_steady_run_checks_each_parameter_once(monkeypatch):
    calls = []
    check = fused.FusedEngine.check

    def spy(self, rule, param, *args):
        calls.append(tuple(param.shape))
        return check(self, rule, param, *args)

    monkeypatch.setattr(fused.FusedEngine, "check", spy)
    runs = _side_by_side("Adam", {"lr": 0.01}, steps=12)
    _assert_same(runs)
    assert sorted(calls) == sorted(SHAPES)


def test_scalar_state_is_read_and_written_in_place_with_versions_bumped():
    (params, opt), _ = _side_by_side("Adam", {"lr": 0.01}, steps=3)
    step = opt.state[params[0]]["step"]
    version = step._version
    assert step.item() == 3.0
    opt.step()
    assert step.item() == 4.0 and opt.state[params[0]]["step"] is step
    assert step._version > version  # as fill_ would


def test_a_parameter_moved_to_new_memory_is_followed_and_its_old_memory_left_alone():
    old = {}

    def move(opt, params, step):
        if step == 3:
            old["memory"] = params[0].data
            old["values"] = params[0].detach().clone()
            params[0].data = params[0].data.clone()

    runs = _side_by_side("Adam", {"lr": 0.01}, steps=8, change=move)
    _assert_same(runs)
    assert torch.equal(old["memory"], old["values"])  # no step wrote through the stale address


@pytest.mark.parametrize("how", ["replaced", "re-pointed"])
def test_a_state_tensor_swapped_by_the_user_is_the_one_updated(how):
    old = {}

    def swap(opt, params, step):
        if step == 4:
            p_state = opt.state[params[1]]
            old["tensor"] = p_state["exp_avg"]
            old["values"] = p_state["exp_avg"].clone()
            if how == "replaced":
                p_state["exp_avg"] = p_state["exp_avg"] * 0.5
            else:
                p_state["exp_avg"].data = p_state["exp_avg"] * 0.5

    runs = _side_by_side("Adam", {"lr": 0.01}, steps=8, change=swap)
    _assert_same(runs)
    if how == "replaced":
        assert torch.equal(old["tensor"], old["values"])


@pytest.mark.parametrize("how", ["in place", "replaced", "re-pointed"])
def test_a_step_count_rewritten_is_read(how):
    def rewrite(opt, params, step):
        if step == 5:
            for p in params:
                if how == "in place":
                    opt.state[p]["step"].fill_(1000.0)
                elif how == "replaced":
                    opt.state[p]["step"] = torch.tensor(1000.0)
                else:
                    opt.state[p]["step"].data = torch.tensor(1000.0)

    runs = _side_by_side("Adam", {"lr": 0.01}, steps=8, change=rewrite)
    _assert_same(runs)
    (params, opt), _ = runs
    assert opt.state[params[0]]["step"].item() == 1003.0


def test_a_flag_toggled_between_steps_changes_the_arrays_the_kernel_takes():
    def toggle(opt, params, step):
        if step == 4:
            opt.param_groups[0]["amsgrad"] = False

    runs = _side_by_side("Adam", {"lr": 0.01, "amsgrad": True}, steps=8, change=toggle)
    _assert_same(runs)


def test_sgd_momentum_born_on_the_first_step_is_followed():
    runs = _side_by_side("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, steps=6)
    _assert_same(runs)


def test_sgd_momentum_deleted_by_the_user_is_born_again():
    def reset(opt, params, step):
        if step == 3:
            del opt.state[params[0]]["momentum_buffer"]

    runs = _side_by_side("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.1}, steps=6, change=reset)
    _assert_same(runs)


def test_a_gradient_of_another_kind_for_one_step_takes_the_reference_path_then_the_kernel_again():
    def stride(opt, params, step):
        if step == 3:
            params[0].grad = params[0].grad.t().contiguous().t()  # column-major: not for the kernels

    runs = _side_by_side("Adam", {"lr": 0.01}, steps=7, change=stride)
    _assert_same(runs)


def test_a_loaded_state_dict_replaces_the_records():
    def reload(opt, params, step):
        if step == 4:
            saved = opt.state_dict()
            saved["state"][0]["exp_avg"] = saved["state"][0]["exp_avg"] * 0.25
            opt.load_state_dict(saved)

    runs = _side_by_side("AdamW", {"lr": 0.01, "weight_decay": 0.1}, steps=8, change=reload)
    _assert_same(runs)


def test_a_steady_run_replays_the_group_and_follows_torch(monkeypatch):
    """After its first steps, a steady run takes the replay (:mod:`adamkit.torch.replay`): no
    per-tensor lookups, the tables reused, only gradient addresses, scalars and step counts
    written; a scheduler's lr and the new gradients every step still reach the kernel, and the
    run equals torch.optim's."""
    finds = []
    find = fused.FusedEngine.find
    monkeypatch.setattr(fused.FusedEngine, "find", lambda self, *a: finds.append(1) or find(self, *a))
    ours, theirs = _params(), _params()
    opt = adamkit.torch.AdamW(ours, lr=0.01, weight_decay=0.1)
    ref = torch.optim.AdamW(theirs, lr=0.01, weight_decay=0.1)
    schedulers = [torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5) for o in (opt, ref)]
    for step in range(10):
        for params in (ours, theirs):
            for p, g in zip(params, _grads(params, step), strict=True):
                p.grad = g
        opt.step()
        ref.step()
        for scheduler in schedulers:
            scheduler.step()
    assert len(finds) == len(SHAPES)  # the first step only: the other nine were replayed
    for x, y in zip(ours, theirs, strict=True):
        assert rel_diff(x.detach(), y.detach()) <= 1e-6
        assert opt.state[x]["step"] == ref.state[y]["step"] == 10


def test_a_replayed_group_notices_a_parameter_put_in_another_ones_place():
    def swap(opt, params, step):
        if step == 4:
            gen = torch.Generator().manual_seed(5)  # the same new parameter in both runs
            params[1] = torch.nn.Parameter(torch.randn(3, 2, generator=gen))
            params[1].grad = torch.randn(3, 2, generator=gen)
            opt.param_groups[0]["params"][1] = params[1]

    runs = _side_by_side("Adam", {"lr": 0.01}, steps=7, change=swap)
    _assert_same(runs)
    (params, opt), _ = runs
    assert opt.state[params[1]]["step"].item() == 3.0


@pytest.mark.parametrize("bits", [32, 16, 8])
def test_an_empty_param_group_is_stepped_as_torch_steps_it(bits):
    """torch.optim accepts a param group without parameters; so must the replay's bookkeeping."""
    ours, theirs = _params(), _params()
    opt = adamkit.torch.Adam([{"params": []}, {"params": ours}], lr=0.01, state_bits=bits)
    ref = torch.optim.Adam([{"params": []}, {"params": theirs}], lr=0.01)
    for step in range(4):
        for params in (ours, theirs):
            for p, g in zip(params, _grads(params, step), strict=True):
                p.grad = g
        opt.step()
        ref.step()
    tolerance = {32: 1e-6, 16: 1e-2, 8: 1e-2}[bits]
    for x, y in zip(ours, theirs, strict=True):
        assert rel_diff(x.detach(), y.detach()) <= tolerance


def test_a_parameter_without_a_gradient_for_a_while_is_stepped_again_after():
    def drop(opt, params, step):
        if step in (2, 3):
            params[2].grad = None

    runs = _side_by_side("NAdam", {"lr": 0.01}, steps=7, change=drop)
    _assert_same(runs)
    (params, opt), _ = runs
    assert opt.state[params[2]]["step"].item() == 5.0


@pytest.mark.parametrize("bits", [8, 16])
def test_low_bit_records_follow_a_reloaded_state_and_leave_the_old_one_alone(bits):
    """A reload mid-run (new tensors, same codes) continues bit for bit; the old moments stay as they were."""

    def run(reload: bool):
        gen = torch.Generator().manual_seed(3)
        params = [torch.nn.Parameter(torch.randn(64, 80, generator=gen)) for _ in range(2)]
        opt = adamkit.torch.Adam(params, lr=0.01, state_bits=bits, amsgrad=True)
        old = {}
        for step in range(6):
            for p in params:
                p.grad = torch.randn(p.shape, generator=gen)
            if reload and step == 3:
                old = {k: (v, v.clone()) for k, v in opt.state[params[0]].items()}
                opt.load_state_dict(opt.state_dict())
            opt.step()
        for key, (tensor, values) in old.items():
            assert torch.equal(tensor, values), key
        return params, opt

    (pa, a), (pb, b) = run(True), run(False)
    assert a._engine.kernel.checked  # the fused low-bit kernels ran and kept records
    for x, y in zip(pa, pb, strict=True):
        assert torch.equal(x, y)
        for key, value in b.state[y].items():
            assert torch.equal(a.state[x][key], value), key


@pytest.mark.parametrize("bits", [32, 8])
def test_the_state_of_a_frozen_parameter_can_be_freed(bits):
    """Records go when a parameter has no gradient, so deleting its state frees the memory."""
    params = [torch.nn.Parameter(torch.randn(64, 80)) for _ in range(2)]
    opt = adamkit.torch.Adam(params, lr=0.01, state_bits=bits)
    for _ in range(2):
        for p in params:
            p.grad = torch.randn(p.shape)
        opt.step()
    moment = "exp_avg" if bits == 32 else "exp_avg_codes"
    gone = weakref.ref(opt.state[params[0]][moment])
    params[0].grad = None  # frozen from here on, its optimizer state deleted to save memory
    del opt.state[params[0]]
    opt.step()
    gc.collect()
    assert gone() is None
    assert opt.state[params[1]]["step"].item() == 3.0


def test_a_parameter_the_kernels_no_longer_take_drops_its_record():
    params = [torch.nn.Parameter(torch.randn(64, 80)) for _ in range(2)]
    opt = adamkit.torch.Adam(params, lr=0.01)
    for step in range(3):
        for p in params:
            p.grad = torch.randn(p.shape, dtype=p.dtype)
        if step == 2:
            gone = weakref.ref(opt.state[params[0]]["exp_avg"])
            del opt.state[params[0]]
            params[0].data = params[0].data.half()  # now for the reference engine
            params[0].grad = params[0].grad.half()
        opt.step()
    gc.collect()
    assert id(params[0]) not in opt._engine.checked and id(params[1]) in opt._engine.checked
    assert gone() is None
    assert opt.state[params[0]]["exp_avg"].dtype == torch.float16


REPLAYED = [
    ("Adam", {"lr": 0.01}, 32),
    ("AdamW", {"lr": 0.01, "amsgrad": True}, 32),
    ("NAdam", {"lr": 0.01}, 32),
    ("RAdam", {"lr": 0.01}, 32),
    ("SGD", {"lr": 0.01, "momentum": 0.9}, 32),
    ("Lion", {"lr": 0.001}, 32),
    ("AdEMAMix", {"lr": 0.01}, 32),
    ("Adam", {"lr": 0.01}, 16),
    ("AdamW", {"lr": 0.01, "amsgrad": True}, 8),
    ("Lion", {"lr": 0.001}, 8),
]


@pytest.mark.parametrize("algo, kwargs, bits", REPLAYED, ids=[f"{a}-{b}" for a, _, b in REPLAYED])
def test_a_replayed_step_is_bit_for_bit_the_general_one(algo, kwargs, bits, monkeypatch):
    """Replays on (the default) and off: the same bits in parameters and state, step after step,
    with a scheduler changing lr; and the replays did run (no per-tensor lookups after the first step)."""
    from adamkit.torch import replay as fp32_replay
    from adamkit.torch.lowbit import engine as lowbit_engine
    from adamkit.torch.lowbit import replay as lowbit_replay

    replayed = []

    def counting(run):
        def counted(self, *args):
            replayed.append(run(self, *args))
            return replayed[-1]

        return counted

    for cls in (fp32_replay.Replay, lowbit_replay.LowBitReplay):
        monkeypatch.setattr(cls, "run", counting(cls.run))

    def run(replay: bool):
        with monkeypatch.context() as patch:
            if not replay:
                patch.setattr(fused.FusedEngine, "keep_replay", lambda *a: None)
                patch.setattr(lowbit_engine.LowBitEngine, "keep_replay", lambda *a: None)
            gen = torch.Generator().manual_seed(3)
            params = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in [(64, 80), (80,), (3,)]]
            opt = getattr(adamkit.torch, algo)(params, state_bits=bits, **kwargs)
            scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
            for _ in range(6):
                for p in params:
                    p.grad = torch.randn(p.shape, generator=gen)
                opt.step()
                scheduler.step()
            return params, opt

    params_a, opt_a = run(replay=True)
    assert replayed.count(True) >= 5  # steps 2 to 6 replayed (a low-bit group: its 32-bit part too)
    replayed.clear()
    params_b, opt_b = run(replay=False)
    assert not replayed
    for p, q in zip(params_a, params_b, strict=True):
        assert torch.equal(p, q)
        for key, value in opt_b.state[q].items():
            assert torch.equal(torch.as_tensor(opt_a.state[p][key]), torch.as_tensor(value)), key
