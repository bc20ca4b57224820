"""Generic tests over the one table of cases (tests/cases): every algorithm, every flag."""

from __future__ import annotations

import io
import math
import re

import numpy as np
import pytest
import torch

import adamkit.numpy
import adamkit.torch
from cases import ALGORITHMS, BAD_INPUTS, CASES, CONVERGENCE
from harness import (
    initial_params,
    make_torch_run,
    numpy_steps,
    rel_diff,
    state_diffs,
    torch_steps,
    training,
)

TORCH_CASES = [c for c in CASES if c.torch_cls is not None]


def ours(algo: str):
    return getattr(adamkit.torch, algo)


def reference_factory(algo: str):
    """Our optimizer on the readable reference engine (the oracle for the fused engines)."""
    return lambda params, **kw: ours(algo)(params, fused=False, **kw)


def theirs(case):
    return getattr(torch.optim, case.torch_cls)


def test_table_is_large_enough():
    assert len(TORCH_CASES) >= 60, len(TORCH_CASES)


@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)], ids=["f64", "f32"])
def test_parity_with_torch_optim(case, dtype, tol, float64_default):
    if dtype == torch.float32:
        torch.set_default_dtype(torch.float32)
    pa, a = make_torch_run(ours(case.algo), case.kwargs, dtype)
    pb, b = make_torch_run(theirs(case), case.kwargs, dtype)
    torch_steps(pa, a, 200)
    torch_steps(pb, b, 200)
    diffs = state_diffs(a, b, pa, pb)
    worst = max(diffs, key=diffs.get)
    assert diffs[worst] <= tol, f"{worst}: {diffs[worst]:.3e}"
    assert all(p.dtype == dtype for p in pa)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_numpy_equals_torch(case, float64_default):
    pt, opt_t = make_torch_run(ours(case.algo), case.kwargs)
    torch_steps(pt, opt_t, 100)
    groups = [
        {
            **{k: v for k, v in g.items() if k in opt_t.rule.defaults},
            "params": [p.detach().numpy().copy() for p in g["params"]],
        }
        for g in opt_t.param_groups
    ]
    # start from the same initial values
    init = [p.numpy() for group in initial_params() for p in group]
    flat = [p for g in groups for p in g["params"]]
    for p, p0 in zip(flat, init, strict=True):
        p[...] = p0
    opt_n = training(getattr(adamkit.numpy, case.algo)(groups, **case.kwargs))
    numpy_steps(flat, opt_n, 100)
    for i, (a, b) in enumerate(zip(flat, pt, strict=True)):
        assert rel_diff(a, b.detach()) <= 1e-12, f"param{i}"
        for key, value in opt_t.state[b].items():
            assert rel_diff(np.asarray(opt_n.state[i][key]), value) <= 1e-12, f"param{i}.{key}"


def _roundtrip(opt: torch.optim.Optimizer) -> dict:
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("direction", ["torch->adamkit", "adamkit->torch"])
def test_state_dict_interchange(case, direction, float64_default):
    first, second = (theirs(case), ours(case.algo))
    if direction == "adamkit->torch":
        first, second = second, first
    p1, o1 = make_torch_run(first, case.kwargs)
    torch_steps(p1, o1, 20)
    saved = _roundtrip(o1)
    p2, o2 = make_torch_run(second, case.kwargs)
    with torch.no_grad():
        for a, b in zip(p2, p1, strict=True):
            a.copy_(b)
    o2.load_state_dict(saved)
    torch_steps(p1, o1, 30, start=20)
    torch_steps(p2, o2, 30, start=20)
    diffs = state_diffs(o2, o1, p2, p1) if second is not theirs(case) else state_diffs(o1, o2, p1, p2)
    worst = max(diffs, key=diffs.get)
    assert diffs[worst] <= 1e-12, f"{worst}: {diffs[worst]:.3e}"


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=lambda b: b.id)
def test_bad_hyperparameter_is_named(bad):
    p = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match=re.escape(bad.word)):
        ours(bad.algo)(p, **bad.kwargs)
    with pytest.raises(ValueError, match=re.escape(bad.word)):
        getattr(adamkit.numpy, bad.algo)([np.zeros(2)], **bad.kwargs)
    # a param group added later with the bad value is rejected too
    opt = ours(bad.algo)([torch.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError, match=re.escape(bad.word)):
        opt.add_param_group({"params": [torch.zeros(1, requires_grad=True)], **bad.kwargs})


def _minimise(algo, kwargs, f, start, steps=10_000):
    x = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = ours(algo)([x], **kwargs)
    training(opt)
    for _ in range(steps):
        opt.zero_grad()
        f(x).backward()
        opt.step()
    return x.detach()


def parabola(x):
    return (
        (x - torch.tensor([1.0, -2.0], dtype=x.dtype)) ** 2 * torch.tensor([1.0, 3.0], dtype=x.dtype)
    ).sum()


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


@pytest.mark.parametrize("conv", CONVERGENCE, ids=lambda c: c.algo)
@pytest.mark.parametrize("function", ["parabola", "rosenbrock"])
def test_convergence(conv, function):
    if function == "parabola":
        x = _minimise(conv.algo, conv.parabola, parabola, [-1.5, 2.5])
        target = torch.tensor([1.0, -2.0], dtype=torch.float64)
    else:
        x = _minimise(conv.algo, conv.rosenbrock, rosenbrock, [-1.2, 1.0])
        target = torch.tensor([1.0, 1.0], dtype=torch.float64)
    assert (x - target).abs().max().item() < 3e-2, x


def test_every_algorithm_has_convergence_row():
    assert {c.algo for c in CONVERGENCE} >= set(ALGORITHMS)


@pytest.mark.parametrize("case", [c for c in CASES if c.torch_cls is not None][::3], ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_low_precision_keeps_dtype_and_tracks_float64(case, dtype):
    p64, o64 = make_torch_run(ours(case.algo), case.kwargs, torch.float64)
    p, o = make_torch_run(ours(case.algo), case.kwargs, dtype)
    torch_steps(p64, o64, 20)
    torch_steps(p, o, 20)
    for a, b in zip(p, p64, strict=True):
        assert a.dtype == dtype
        for key, value in o.state[a].items():
            if key not in o.rule.scalar_state and isinstance(value, torch.Tensor):
                assert value.dtype == dtype, key
        assert torch.isfinite(a.float()).all()
        assert rel_diff(a.detach(), b.detach()) < 0.1


@pytest.mark.parametrize("case", TORCH_CASES[::4], ids=lambda c: c.id)
def test_complex_params_match_torch(case, float64_default):
    def run(factory):
        gen = torch.Generator().manual_seed(3)
        z = torch.randn(6, dtype=torch.complex128, generator=gen).requires_grad_(True)
        opt = factory([z], **case.kwargs)
        for _ in range(50):
            opt.zero_grad()
            (z.abs() ** 2 + 0.1 * z.abs() ** 4).sum().backward()
            opt.step()
        return z.detach(), opt.state[z]

    za, sa = run(ours(case.algo))
    zb, sb = run(theirs(case))
    assert rel_diff(za, zb) <= 1e-10
    for key, value in sb.items():
        assert rel_diff(sa[key], value) <= 1e-10, key
        if isinstance(value, torch.Tensor):
            assert sa[key].dtype == value.dtype


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_closure_scheduler_zero_grad_and_repr(algo, float64_default):
    case = (
        next(c for c in TORCH_CASES if c.algo == algo) if any(c.algo == algo for c in TORCH_CASES) else None
    )
    kwargs = case.kwargs if case else {}

    def run(factory):
        x = torch.tensor([1.5, -0.5], requires_grad=True)
        opt = factory([x], **kwargs)
        training(opt)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
        losses = []
        for _ in range(10):

            def closure():
                opt.zero_grad()
                loss = (x**2).sum()
                loss.backward()
                return loss

            losses.append(opt.step(closure).item())
            sched.step()
        assert x.grad is not None
        opt.zero_grad()
        assert x.grad is None
        return x.detach(), losses, opt

    xa, la, oa = run(ours(algo))
    assert math.isclose(oa.param_groups[0]["lr"], oa.param_groups[0]["initial_lr"] * 0.5**3)
    text = repr(oa)
    assert algo in text and "lr" in text and "engine=" in text
    if case:
        xb, lb, _ = run(theirs(case))
        assert rel_diff(xa, xb) <= 1e-12
        assert np.allclose(la, lb, rtol=1e-12)


def test_state_dict_carries_a_schema_that_torch_ignores_and_newer_ones_are_refused(float64_default):
    from adamkit.torch.optimizer import STATE_SCHEMA

    pa, a = make_torch_run(ours("Adam"), {"lr": 0.01})
    torch_steps(pa, a, 3)
    saved = _roundtrip(a)
    assert saved["adamkit"] == {"schema": STATE_SCHEMA, "optimizer": "Adam"}  # the class: test_robust_load
    pb, b = make_torch_run(torch.optim.Adam, {"lr": 0.01})
    b.load_state_dict(saved)  # torch.optim reads our checkpoint, the extra key ignored
    assert torch.equal(b.state[pb[0]]["exp_avg"], a.state[pa[0]]["exp_avg"])
    newer = {**saved, "adamkit": {"schema": STATE_SCHEMA + 1}}
    with pytest.raises(ValueError, match="schema"):
        a.load_state_dict(newer)
