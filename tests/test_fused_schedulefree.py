"""Schedule-Free AdamW's fused kernel against the rule on NumPy, the ``schedulefree`` package and eager mode.

The generic tests (``test_fused.py``, ``test_gpu_kernels.py``) run it against the reference engine,
whose torch square roots are not always correctly rounded; here the kernel is held to the rule run
on NumPy arrays (correctly rounded, as the kernel), bit for bit in float32 and float64: the same
operations in the same order, the step's host numbers (rate, the average's weight, the bias
correction) the rule's. Then against the authors' package with ``train()`` / ``eval()`` switched
mid-run, and inside a compiled training step.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import adamkit.torch as ak
from adamkit.rules.schedulefree import SCHEDULE_FREE_ADAMW
from adamkit.torch import fused
from adamkit.torch.kernels.jit import PARALLEL_MIN

pytestmark = pytest.mark.skipif(
    fused.kernel_for(SCHEDULE_FREE_ADAMW) is None, reason="numba is not installed"
)

#: two groups: the defaults but the rate, and every option on (warm-up, decay at y, r, other betas)
GROUPS = [
    dict(lr=1e-2),
    dict(lr=2e-2, warmup_steps=5, weight_decay=0.1, r=1.0, weight_lr_power=1.0, betas=(0.8, 0.99), eps=1e-6),
]
#: a matrix, a vector left without a gradient on some steps (its own step count and sums), and a
#: tensor long enough for the parallel launcher
SHAPES = [[(30, 17), (5,)], [(PARALLEL_MIN + 1000,)]]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_the_fused_step_is_the_rule_on_numpy_bit_for_bit(dtype):
    gen = torch.Generator().manual_seed(0)
    params = [[torch.randn(s, dtype=dtype, generator=gen).requires_grad_() for s in g] for g in SHAPES]
    opt = ak.ScheduleFreeAdamW([{"params": ps, **hp} for ps, hp in zip(params, GROUPS, strict=True)])
    opt.train()
    rule = SCHEDULE_FREE_ADAMW
    hypers = [rule.hyper(**hp) for hp in GROUPS]
    arrays = [[p.detach().numpy().copy() for p in ps] for ps in params]
    states = [[rule.init(a, hp) for a in group] for group, hp in zip(arrays, hypers, strict=True)]
    for step in range(25):
        for g, (ps, hp) in enumerate(zip(params, hypers, strict=True)):
            for i, p in enumerate(ps):
                if p.shape == (5,) and step % 4 == 1:
                    p.grad = None
                    continue
                p.grad = torch.randn(p.shape, dtype=dtype, generator=gen)
                arrays[g][i], states[g][i] = rule.update(arrays[g][i], p.grad.numpy(), states[g][i], hp)
        opt.step()
    for ps, group_arrays, group_states in zip(params, arrays, states, strict=True):
        for p, expected, state in zip(ps, group_arrays, group_states, strict=True):
            assert opt.engine_of(p) == "fused"
            ours = opt.state[p]
            for key, got, want in (("param", p.detach().numpy(), expected),
                                   ("z", ours["z"].numpy(), state["z"]),
                                   ("exp_avg_sq", ours["exp_avg_sq"].numpy(), state["exp_avg_sq"])):
                same = np.array_equal(got, want)
                assert same, f"{key} of {tuple(p.shape)}: {np.abs(got - want).max():.3e} off"
            assert float(ours["step"]) == state["step"]
            assert type(ours["weight_sum"]) is float and ours["weight_sum"] == state["weight_sum"]
            assert type(ours["lr_max"]) is float and ours["lr_max"] == state["lr_max"]
    skipped = opt.state[params[0][1]]
    assert float(skipped["step"]) < float(opt.state[params[0][0]]["step"])  # counted apart, as the rule


@pytest.mark.parametrize("kwargs", [dict(lr=1e-2), dict(lr=1e-2, warmup_steps=10, weight_decay=0.1, r=1.0)])
def test_the_fused_engine_with_modes_switched_mid_run_equals_the_schedulefree_package(kwargs):
    """Evaluations between training stretches (``eval()`` then ``train()`` every 20 steps), float64."""
    schedulefree = pytest.importorskip("schedulefree")
    from test_modern_family import STEPS, _moved, assert_same, grads_at, start

    ours, theirs = start(), start()
    ours = [p.requires_grad_(True) for p in ours]
    theirs = [p.requires_grad_(True) for p in theirs]
    ours_opt = ak.ScheduleFreeAdamW(ours, **kwargs)
    their_opt = schedulefree.AdamWScheduleFree(theirs, foreach=False, **kwargs)
    for step in range(STEPS):
        if step % 20 == 0:
            ours_opt.train()
            their_opt.train()
            assert_same(ours, theirs, tol=1e-11)  # y, back from x
        for params in (ours, theirs):
            for p, g in zip(params, grads_at(step, [p.detach() for p in params]), strict=True):
                p.grad = g
        ours_opt.step()
        their_opt.step()
        if step % 20 == 19:
            ours_opt.eval()
            their_opt.eval()
            assert_same(ours, theirs, tol=1e-11)  # x
    assert all(ours_opt.engine_of(p) == "fused" for p in ours)
    _moved(ours)


@pytest.mark.parametrize("fused_flag", [None, False], ids=["fused", "reference"])
def test_a_compiled_training_step_equals_eager_mode(fused_flag, one_torch_thread):
    """``opt.step()`` inside a ``torch.compile``d training step (with a scheduler), bit for bit as eager."""
    from test_compile import assert_same_run, train

    def make_opt(params):
        opt = ak.ScheduleFreeAdamW(params, lr=1e-2, weight_decay=0.1, warmup_steps=2, fused=fused_flag)
        opt.train()
        return opt

    compiled = train(make_opt, backend="eager")
    assert compiled[3].op_count > 0  # Dynamo compiled the model around the step
    model, opt = compiled[0], compiled[1]
    expected = "reference" if fused_flag is False else "fused"
    assert {opt.engine_of(p) for p in model.parameters()} == {expected}
    assert_same_run(compiled, train(make_opt))


def test_train_and_eval_move_in_pieces_exactly_as_the_rule_moves_whole_tensors(monkeypatch):
    """``eval()`` / ``train()`` move a large tensor in pieces (bounded temporaries): the same bits as the
    rule's ``to_eval`` / ``to_train`` on the whole tensor, a partial last piece and a strided parameter
    (moved whole) included."""
    from adamkit.rules.schedulefree import to_eval, to_train
    from adamkit.torch import schedulefree as module

    monkeypatch.setattr(module, "MOVE_CHUNK", 1000)
    gen = torch.Generator().manual_seed(1)
    params = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in [(2500, 3), (7,)]]
    params.append(torch.nn.Parameter(torch.randn(5, 4, generator=gen).t()))  # not contiguous
    opt = ak.ScheduleFreeAdamW(params, lr=0.1, betas=(0.7, 0.999))
    opt.train()
    for _ in range(3):
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen)
        opt.step()
    for move, to in ((opt.eval, to_eval), (opt.train, to_train)):
        expected = [to(p.detach().clone(), opt.state[p]["z"], 0.7) for p in params]
        move()
        for p, want in zip(params, expected, strict=True):
            assert torch.equal(p.detach(), want), tuple(p.shape)
