"""The Triton kernels (:mod:`adamkit.torch.gpu`) against the numba kernels and the reference engine.

The Triton kernels run on a CUDA device where there is one, else in Triton's interpreter
(``TRITON_INTERPRET=1``, set by ``conftest.py``: NumPy on the CPU), through the whole
optimizer: the fused engine's CPU launcher is swapped for the Triton one, so the same
tables (addresses, sizes, per-tensor scalars) that the numba kernels read are read by the
Triton kernels. With CUDA, they also run against torch.optim there. Skipped where Triton
is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("triton")
pytest.importorskip("numba")

import adamkit.torch as ak  # noqa: E402
from adamkit.torch import fused  # noqa: E402
from adamkit.torch.gpu import launch  # noqa: E402
from triton_cases import ADAM_CASES, TRITON_DEVICE  # noqa: E402

CASES = ADAM_CASES + [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "maximize": True}),
    ("Adamax", {"weight_decay": 0.1}),
    ("Adamax", {"maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"decoupled_weight_decay": True, "weight_decay": 0.1}),
    ("RAdam", {}),  # the first steps take RAdam's SGD branch, the later ones the adaptive rate
    ("RAdam", {"weight_decay": 0.1, "maximize": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.9, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1, "maximize": True}),
    ("SWATS", {"lr": 0.01, "switch_tol": 1.0}),  # switches at once: its SGD phase is on Triton
    ("Lion", {"lr": 0.01, "weight_decay": 0.1}),
    ("Lion", {"lr": 0.01, "maximize": True}),
    ("AdaBelief", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    ("AdaBelief", {"lr": 0.01, "decoupled_weight_decay": True, "weight_decay": 0.1, "maximize": True}),
    ("AdEMAMix", {"lr": 0.01}),
    ("AdEMAMix", {"lr": 0.01, "t_alpha": 5, "t_beta3": 5, "weight_decay": 0.0, "maximize": True}),
    ("ScheduleFreeAdamW", {"lr": 0.01}),
    ("ScheduleFreeAdamW", {"lr": 0.01, "warmup_steps": 3, "weight_decay": 0.1, "r": 1.0,
                           "betas": (0.8, 0.9)}),
]
STEPS = 7  # RAdam's adaptive rate starts at step 6
SIZES = [(0,), (5,), (40, 25), (2500,)]  # empty, under a program, several programs, a partial one


def run(algo: str, kwargs: dict, dtype: torch.dtype, engine: str, steps: int, monkeypatch) -> list:
    """Parameters and state (on the CPU) after ``steps`` steps on fixed gradients, with ``engine``."""
    device = TRITON_DEVICE if engine == "triton" else "cpu"
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(s, generator=gen, dtype=dtype).to(device).requires_grad_() for s in SIZES]
    grads = [[torch.randn(s, generator=gen, dtype=dtype).to(device) for s in SIZES] for _ in range(steps)]
    with monkeypatch.context() as patch:
        if engine == "triton" and device == "cpu":
            patch.setitem(fused.LAUNCHERS, "cpu", "adamkit.torch.gpu.launch:launch")
        opt = getattr(ak, algo)(params, fused=engine != "reference", **kwargs)
        if algo == "ScheduleFreeAdamW":  # it steps in train mode only
            opt.train()
        if engine != "reference" and algo != "SWATS":  # all on the kernels: a fallback would hide them
            patch.setattr(opt._engine.reference, "step_group", refuse)
        for k in range(steps):
            for p, g in zip(params, grads[k], strict=True):
                p.grad = g.clone()
            opt.step()
        if algo == "SWATS":  # its Adam phase sums over each tensor: no Triton kernel, the reference runs it
            assert all(sw.switched for sw, p in zip(opt.switches(), params, strict=True) if p.numel())
    tensors = [[(k, v.cpu()) for k, v in sorted(opt.state[p].items()) if torch.is_tensor(v)] for p in params]
    return [p.detach().cpu() for p in params], tensors


def refuse(rule, group, state):
    raise AssertionError(f"the fused engine handed {len(group['params'])} tensors to the reference engine")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("algo, kwargs", CASES, ids=[f"{a}-{k}" for a, k in CASES])
def test_triton_kernels_equal_the_numba_kernels_and_the_rule(algo, kwargs, dtype, monkeypatch):
    triton_params, triton_state = run(algo, kwargs, dtype, "triton", STEPS, monkeypatch)
    numba_params, numba_state = run(algo, kwargs, dtype, "numba", STEPS, monkeypatch)
    reference_params, _ = run(algo, kwargs, dtype, "reference", STEPS, monkeypatch)
    tight = {"rtol": 1e-6, "atol": 1e-7} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-14}
    loose = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else tight
    moved = 0.0
    for a, b, r, start in zip(triton_params, numba_params, reference_params, run_start(dtype), strict=True):
        torch.testing.assert_close(a, b, **tight)
        torch.testing.assert_close(a, r, **loose)  # run apart: torch's float32 sqrt is not always rounded
        moved += (a - start).abs().sum().item()
    assert moved > 0  # the kernels did step
    for mine, theirs in zip(triton_state, numba_state, strict=True):
        assert [k for k, _ in mine] == [k for k, _ in theirs]
        for (_, x), (_, y) in zip(mine, theirs, strict=True):
            assert x.dtype == y.dtype
            torch.testing.assert_close(x, y, **tight)


def run_start(dtype: torch.dtype) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return [torch.randn(s, generator=gen, dtype=dtype) for s in SIZES]


def test_program_map_covers_every_element_once():
    sizes = np.array([0, 1, launch.BLOCK, launch.BLOCK + 1, 3], np.int64)
    block_tensor, block_start = launch.program_map(sizes)
    assert block_tensor.tolist() == [1, 2, 3, 3, 4]
    assert block_start.tolist() == [0, 0, 0, launch.BLOCK, 0]


def test_families_without_a_triton_kernel_take_the_reference_engine():
    from adamkit.torch.kernels.adam import ADAM_KERNEL
    from adamkit.torch.kernels.swats import SWATS_ADAM_KERNEL, SWATS_SGD_KERNEL

    assert launch.runs(ADAM_KERNEL) and launch.runs(SWATS_SGD_KERNEL)
    assert not launch.runs(SWATS_ADAM_KERNEL)  # its per-tensor sums have no Triton version


def test_a_family_without_triton_kernel_is_named():
    class Family:
        name = "adadelta"

    with pytest.raises(ValueError, match="no Triton kernel for the 'adadelta' family"):
        launch.launch(Family(), np.zeros((1, 3), np.int64), np.ones(1, np.int64), np.zeros((1, 4)), "cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("kwargs", [{}, {"amsgrad": True, "weight_decay": 0.1}, {"maximize": True}])
def test_adam_on_cuda_equals_torch_fused(kwargs):
    gen = torch.Generator(device="cuda").manual_seed(0)
    ours = [torch.randn(s, device="cuda", generator=gen, requires_grad=True) for s in [(3000,), (64, 33)]]
    theirs = [p.detach().clone().requires_grad_() for p in ours]
    a = ak.Adam(ours, **kwargs)
    b = torch.optim.Adam(theirs, fused=True, **kwargs)
    assert a.engine == "fused"
    for _ in range(20):
        for p, q in zip(ours, theirs, strict=True):
            p.grad = torch.randn(p.shape, device="cuda", generator=gen)
            q.grad = p.grad.clone()
        a.step()
        b.step()
    for p, q in zip(ours, theirs, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
