"""Tensors too small for 8-bit blocks in an 8-bit Adam group: they keep float32 moments (as
bitsandbytes' ``min_8bit_size``) and, on the CPU, step in the 8-bit kernels' own call
(:func:`adamkit.torch.lowbit.adam_kernels.float32_moments`) instead of through a second engine:
one launch and one replay per group. Their update is the fp32 kernel's, so the bits are those of
``state_bits=32``; the run follows torch.optim.Adam."""

from __future__ import annotations

import pytest
import torch

import adamkit.torch as ak
from adamkit.torch.lowbit import MIN_8BIT_NUMEL
from adamkit.torch.lowbit.engine import kernel_for

pytestmark = pytest.mark.skipif(kernel_for(ak.Adam.rule) is None, reason="numba is not installed")

#: the articles' MLP (one matrix takes 8-bit codes, three tensors keep float32 moments), plus a tensor
#: one value under the 8-bit minimum
SHAPES = [(128, 784), (128,), (10, 128), (10,), (MIN_8BIT_NUMEL - 1,)]
SMALL = [i for i, s in enumerate(SHAPES) if torch.Size(s).numel() < MIN_8BIT_NUMEL]

CASES = [
    {},
    {"amsgrad": True},
    {"weight_decay": 0.1},
    {"weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True},
    {"betas": (0.0, 0.5), "eps": 1e-3, "lr": 0.1},
]


def params_like(gen: torch.Generator) -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.randn(s, generator=gen) * 0.05) for s in SHAPES]


@pytest.mark.parametrize("kwargs", CASES, ids=lambda kw: ",".join(kw) or "defaults")
def test_small_tensors_of_an_8_bit_group_step_as_at_32_bits(kwargs):
    """Bit for bit the fp32 fused engine's steps (moments and parameters), within float32 rounding of
    torch.optim.Adam's, over replayed steps too."""
    gen = torch.Generator().manual_seed(3)
    low = params_like(gen)
    full = [torch.nn.Parameter(p.detach().clone()) for p in low]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in low]
    opt8 = ak.Adam(low, state_bits=8, **kwargs)
    opt32 = ak.Adam(full, **kwargs)
    reference = torch.optim.Adam(theirs, foreach=False, **kwargs)
    for _ in range(6):
        grads = [torch.randn(p.shape, generator=gen) * 1e-2 for p in low]
        for group in (low, full, theirs):
            for p, g in zip(group, grads, strict=True):
                p.grad = g.clone()
        for opt in (opt8, opt32, reference):
            opt.step()
        for i in SMALL:
            assert torch.equal(low[i], full[i]), SHAPES[i]
            for key, value in opt32.state[full[i]].items():
                assert torch.equal(opt8.state[low[i]][key], value), (SHAPES[i], key)
            torch.testing.assert_close(low[i], theirs[i], rtol=1e-6, atol=1e-7)
    assert opt8.state[low[0]]["exp_avg_codes"].dtype == torch.uint8  # the matrix: 8-bit codes
    assert all(opt8.state[low[i]]["exp_avg"].dtype == torch.float32 for i in SMALL)
    assert all(opt8.engine_of(p) == "fused" for p in low)


def test_an_8_bit_group_steps_in_one_call_and_replays_it():
    """The group's replay holds every tensor in its 8-bit table and none for a second engine; a
    swapped state tensor of a small one is still seen (the step falls back to the general path)."""
    gen = torch.Generator().manual_seed(5)
    params = params_like(gen)
    opt = ak.Adam(params, state_bits=8)
    for _ in range(3):
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen) * 1e-2
        opt.step()
    (replay,) = opt._engine.replays.values()
    assert replay.full == [] and len(replay.fused) == len(SHAPES)
    (table,) = replay.kept.tables
    addresses = table[2]
    assert [int(a[3] == 0) for a in addresses] == [int(i in SMALL) for i in range(len(SHAPES))]
    # a state tensor replaced behind the optimizer's back: the next step must read the new one
    small = params[SMALL[0]]
    swapped = opt.state[small]["exp_avg"].clone().fill_(1.0)
    opt.state[small]["exp_avg"] = swapped
    copy = torch.nn.Parameter(small.detach().clone())
    check = torch.optim.Adam([copy], foreach=False)
    check.state[copy] = {k: v.clone() for k, v in opt.state[small].items()}
    small.grad = torch.randn(small.shape, generator=gen) * 1e-2
    copy.grad = small.grad.clone()
    for p in params:
        if p is not small:
            p.grad = torch.randn(p.shape, generator=gen) * 1e-2
    opt.step()
    check.step()
    torch.testing.assert_close(small, copy, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(opt.state[small]["exp_avg"], check.state[copy]["exp_avg"], rtol=1e-6, atol=0)


def test_small_tensors_on_the_reference_path_when_fused_is_off():
    """``fused=False``: no kernel, the small tensors take the usual (reference) engine."""
    gen = torch.Generator().manual_seed(6)
    params = params_like(gen)
    opt = ak.Adam(params, state_bits=8, fused=False)
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen) * 1e-2
    opt.step()
    assert all(opt.engine_of(p) == "reference" for p in params)
