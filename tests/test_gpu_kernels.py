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
#: the two-pass families: a first pass sums per program, the factor comes from the sums on the device
TWO_PASS_CASES = [
    ("LAMB", {"lr": 0.01, "weight_decay": 0.1}),
    ("LAMB", {"lr": 0.01, "weight_decay": 0.0, "maximize": True}),
    ("Adam", {"cautious": True, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"cautious": True, "weight_decay": 0.1, "maximize": True}),
    ("Lion", {"lr": 0.01, "weight_decay": 0.1, "cautious": True}),
    ("Lion", {"lr": 0.01, "cautious": True, "maximize": True}),
    ("AdEMAMix", {"lr": 0.01, "cautious": True}),
    ("AdEMAMix", {"lr": 0.01, "t_alpha": 5, "t_beta3": 5, "maximize": True, "cautious": True}),
]
CASES += TWO_PASS_CASES
STEPS = 7  # RAdam's adaptive rate starts at step 6
SIZES = [(0,), (5,), (40, 25), (2500,)]  # empty, under a program, several programs, a partial one


def run(
    algo: str, kwargs: dict, dtype: torch.dtype, engine: str, steps: int, monkeypatch, spoiled: bool = False
) -> list:
    """Parameters and state (on the CPU) after ``steps`` steps on fixed gradients, with ``engine``;
    ``spoiled``: a NaN, an infinity of each sign and zeros in some gradients (:func:`spoil`)."""
    device = TRITON_DEVICE if engine == "triton" else "cpu"
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(s, generator=gen, dtype=dtype).to(device).requires_grad_() for s in SIZES]
    grads = [[torch.randn(s, generator=gen, dtype=dtype) for s in SIZES] for _ in range(steps)]
    if spoiled:
        spoil(grads)
    grads = [[g.to(device) for g in step] for step in grads]
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
        if engine != "reference" and algo != "SWATS":  # what the optimizer tells its users
            assert {opt.engine_of(p) for p in params} == {"fused"}
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
    # the cautious counts are exact (integers, in any order): the numba kernels' bits, in the
    # interpreter; LAMB's float64 sums run in another order, so its float32 trust ratio may differ
    # in its last bit (tight's rtol covers it: 5e-6 at worst relative, on a parameter near 0)
    exact = kwargs.get("cautious", False) and TRITON_DEVICE == "cpu"
    for a, b, r, start in zip(triton_params, numba_params, reference_params, run_start(dtype), strict=True):
        torch.testing.assert_close(a, b, **tight)
        assert torch.equal(a, b) or not exact
        torch.testing.assert_close(a, r, **loose)  # run apart: torch's float32 sqrt is not always rounded
        moved += (a - start).abs().sum().item()
    assert moved > 0  # the kernels did step
    for mine, theirs in zip(triton_state, numba_state, strict=True):
        assert [k for k, _ in mine] == [k for k, _ in theirs]
        for (_, x), (_, y) in zip(mine, theirs, strict=True):
            assert x.dtype == y.dtype
            torch.testing.assert_close(x, y, **tight)


def spoil(grads: list[list[torch.Tensor]]) -> None:
    """Non-finite and zero gradients: NaN, +inf and -inf in the (40, 25) tensor at step 2, and the
    first 100 of the 2500-value tensor's gradients zero at every step (a zero never agrees)."""
    grads[2][2].view(-1)[[3, 7, 11]] = torch.tensor([float("nan"), float("inf"), -float("inf")]).to(
        grads[2][2].dtype
    )
    for step in grads:
        step[3][:100] = 0.0


SPOILED_CASES = TWO_PASS_CASES[1::2]  # each family once (AdamW: no L2 term to hide a zero gradient)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("algo, kwargs", SPOILED_CASES, ids=[f"{a}-{k}" for a, k in SPOILED_CASES])
def test_two_pass_kernels_take_non_finite_and_zero_gradients_as_the_numba_kernels(
    algo, kwargs, dtype, monkeypatch
):
    """A NaN or infinite gradient spoils what the rule spoils (LAMB: the whole tensor, through its
    norms; cautious Adam and AdEMAMix: the coordinate, whose update never agrees; cautious Lion:
    only the momentum, torch.sign(NaN) being 0), on every engine alike; and a zero gradient never
    counts as agreeing."""
    triton_params, triton_state = run(algo, kwargs, dtype, "triton", STEPS, monkeypatch, spoiled=True)
    numba_params, numba_state = run(algo, kwargs, dtype, "numba", STEPS, monkeypatch, spoiled=True)
    reference_params, _ = run(algo, kwargs, dtype, "reference", STEPS, monkeypatch, spoiled=True)
    tight = {"rtol": 1e-6, "atol": 1e-7} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-14}
    loose = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else tight
    for a, b, r in zip(triton_params, numba_params, reference_params, strict=True):
        torch.testing.assert_close(a, b, equal_nan=True, **tight)
        torch.testing.assert_close(a, r, equal_nan=True, **loose)
    nan = triton_params[2].isnan()
    if algo == "LAMB":
        assert nan.all()
    elif algo == "Lion":
        assert not nan.any()
    else:
        assert 0 < nan.sum() < nan.numel()
    assert not triton_params[3].isnan().any()
    for mine, theirs in zip(triton_state, numba_state, strict=True):
        for (_, x), (_, y) in zip(mine, theirs, strict=True):
            torch.testing.assert_close(x, y, equal_nan=True, **tight)


def run_start(dtype: torch.dtype) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return [torch.randn(s, generator=gen, dtype=dtype) for s in SIZES]


def test_program_map_covers_every_element_once():
    sizes = np.array([0, 1, launch.BLOCK, launch.BLOCK + 1, 3], np.int64)
    block_tensor, block_start = launch.program_map(sizes)
    assert block_tensor.tolist() == [1, 2, 3, 3, 4]
    assert block_start.tolist() == [0, 0, 0, launch.BLOCK, 0]


@pytest.mark.parametrize("algo, kwargs", [("LAMB", {}), ("AdamW", {"cautious": True})])
def test_two_pass_kernels_take_a_group_of_zero_size_tensors(algo, kwargs, monkeypatch):
    """No programs at all: the first pass's sums are zeros, and the steps are counted on the kernels."""
    params = [torch.zeros(s, device=TRITON_DEVICE, requires_grad=True) for s in [(0,), (3, 0)]]
    with monkeypatch.context() as patch:
        if TRITON_DEVICE == "cpu":
            patch.setitem(fused.LAUNCHERS, "cpu", "adamkit.torch.gpu.launch:launch")
        opt = getattr(ak, algo)(params, **kwargs)
        patch.setattr(opt._engine.reference, "step_group", refuse)
        for _ in range(2):
            for p in params:
                p.grad = torch.zeros_like(p)
            opt.step()
    assert all(opt.engine_of(p) == "fused" and float(opt.state[p]["step"]) == 2 for p in params)


@pytest.mark.parametrize("columns", [1, 2, 3])
def test_per_tensor_sums_add_each_tensor_s_programs(columns):
    """:func:`adamkit.torch.gpu.sums.tensor_totals` against NumPy's sums of the same rows: tensors
    without programs, with one, and with more than one chunk of them (a 2-million-value tensor)."""
    from adamkit.torch.gpu.sums import CHUNK, first_programs, tensor_totals

    programs = np.array([0, 1, 3, 2 * CHUNK + 5, 0], np.int64)
    starts = first_programs(programs * launch.BLOCK, launch.BLOCK)
    partials = np.random.default_rng(0).standard_normal((int(programs.sum()), columns))
    on_device = [torch.from_numpy(a).to(TRITON_DEVICE) for a in (partials, starts)]
    totals = tensor_totals(*on_device, len(programs))
    expected = np.stack([partials[lo:hi].sum(axis=0) for lo, hi in zip(starts[:-1], starts[1:], strict=True)])
    np.testing.assert_allclose(totals.cpu().numpy(), expected, rtol=1e-12, atol=1e-12)
    assert (totals[[0, 4]] == 0).all()


def test_families_without_a_triton_kernel_take_the_reference_engine():
    from adamkit.torch.kernels.adam import ADAM_KERNEL
    from adamkit.torch.kernels.swats import SWATS_ADAM_KERNEL, SWATS_SGD_KERNEL

    assert launch.runs(ADAM_KERNEL) and launch.runs(SWATS_SGD_KERNEL)
    assert not launch.runs(SWATS_ADAM_KERNEL)  # its per-tensor sums decide on the host: no Triton version


def test_two_pass_families_and_their_second_passes_have_triton_kernels():
    from adamkit.torch.kernels.adam import ADAM_KERNEL
    from adamkit.torch.kernels.ademamix import ADEMAMIX_KERNEL
    from adamkit.torch.kernels.lamb import LAMB_KERNEL
    from adamkit.torch.kernels.lion import LION_KERNEL

    cautious = [k.for_hyper({"cautious": True}) for k in (ADAM_KERNEL, LION_KERNEL, ADEMAMIX_KERNEL)]
    for family in (LAMB_KERNEL, *cautious):
        assert family.reductions and launch.runs(family) and launch.runs(family.then.kernel), family.name


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
