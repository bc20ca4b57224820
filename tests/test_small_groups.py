"""Small groups over threads: a replayed group of :data:`~adamkit.torch.kernels.jit.PARALLEL_MIN` to
:data:`~adamkit.torch.kernels.jit.SPLIT_MAX` values runs in finer blocks when it is split over the
threads (an even split: :data:`~adamkit.torch.kernels.jit.SPLIT_BLOCK`). The kernels it applies to
update each value on its own, so the bits are those of one thread, and the run follows torch.optim."""

from __future__ import annotations

import numba
import pytest
import torch

import adamkit.torch
from adamkit.torch import fused
from adamkit.torch.kernels import jit
from harness import rel_diff

pytestmark = pytest.mark.skipif(
    fused.kernel_for(adamkit.torch.Adam.rule) is None, reason="numba is not installed"
)

MLP = [(128, 784), (128,), (10, 128), (10,)]  # the articles' MLP: 101,770 values in 4 tensors


def _run(make, threads: int, steps: int = 5) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(4)
    params = [torch.nn.Parameter(torch.randn(shape, generator=gen) * 0.05) for shape in MLP]
    opt = make(params)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for _ in range(steps):
            for p in params:
                p.grad = torch.randn(p.shape, generator=gen) * 1e-2
            opt.step()
    finally:
        torch.set_num_threads(before)
    return [p.detach() for p in params]


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="numba has one thread")
def test_a_small_group_split_in_finer_blocks_updates_as_one_thread_does(monkeypatch):
    splits = []
    call = jit.call

    def spy(arguments, small, split=None):
        splits.append(split is not None and not small and torch.get_num_threads() > 1)  # split, used
        return call(arguments, small, split)

    monkeypatch.setattr(jit, "call", spy)
    make = lambda ps: adamkit.torch.AdamW(ps, lr=1e-2, weight_decay=0.1)  # noqa: E731
    split = _run(make, threads=2)
    assert splits.count(True) == 4  # every replayed step (the first one takes the general path)
    splits.clear()
    one_thread = _run(make, threads=1)
    assert not any(splits)
    reference = _run(lambda ps: torch.optim.AdamW(ps, lr=1e-2, weight_decay=0.1), threads=1)
    for ours, alone, theirs in zip(split, one_thread, reference, strict=True):
        assert torch.equal(ours, alone)
        assert rel_diff(ours, theirs) <= 1e-6



LOW_BIT = {
    "Adam 8-bit": lambda ps: adamkit.torch.Adam(ps, lr=1e-2, state_bits=8),
    "Adam 8-bit AMSGrad": lambda ps: adamkit.torch.Adam(ps, lr=1e-2, state_bits=8, amsgrad=True),
    "Adam 16-bit": lambda ps: adamkit.torch.Adam(ps, lr=1e-2, state_bits=16),
    "NAdam 8-bit": lambda ps: adamkit.torch.NAdam(ps, lr=1e-2, state_bits=8),  # a family on decoded chunks
}
TORCH = {
    "Adam 8-bit": lambda ps: torch.optim.Adam(ps, lr=1e-2),
    "Adam 8-bit AMSGrad": lambda ps: torch.optim.Adam(ps, lr=1e-2, amsgrad=True),
    "Adam 16-bit": lambda ps: torch.optim.Adam(ps, lr=1e-2),
    "NAdam 8-bit": lambda ps: torch.optim.NAdam(ps, lr=1e-2),
}


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="numba has one thread")
@pytest.mark.parametrize("name", LOW_BIT)
def test_a_small_low_bit_group_split_in_finer_units_updates_as_one_thread_does(monkeypatch, name):
    """The low-bit kernels' units (:data:`adamkit.torch.kernels.jit.SPLIT_BLOCK`: whole
    quantisation blocks) over two threads: the parameters of one thread, bit for bit (the codes and
    scales too, or the next steps would differ), and near torch.optim's float32 run."""
    splits = []
    call = jit.call

    def spy(arguments, small, split=None):
        splits.append(split is not None and not small and torch.get_num_threads() > 1)
        return call(arguments, small, split)

    monkeypatch.setattr(jit, "call", spy)
    split = _run(LOW_BIT[name], threads=2)
    assert splits.count(True) == 4  # every replayed step
    splits.clear()
    one_thread = _run(LOW_BIT[name], threads=1)
    assert not any(splits)
    reference = _run(TORCH[name], threads=1)
    # 8-bit moments are within about 1 % of float32's (the codes' spacing), bfloat16's 0.4 %
    bound = 1.5e-2 if "8-bit" in name else 1e-3
    for ours, alone, theirs in zip(split, one_thread, reference, strict=True):
        assert torch.equal(ours, alone)
        assert rel_diff(ours, theirs) <= bound
