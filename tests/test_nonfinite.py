"""The ``nonfinite=`` policy for NaN and inf gradients (issue 17), on every optimizer and engine.

"skip" must equal a run that never saw the bad batch, bit for bit; "raise" must change nothing;
"propagate" must put NaNs exactly where torch.optim does. GradScaler keeps working.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import adamkit.numpy
import adamkit.torch as ak
import adamkit.torch.nonfinite
from adamkit.rules.swats import SWATS as SWATS_RULE
from adamkit.rules.swats import after_adam_step
from adamkit.torch.lowbit.state import allowed_bits
from cases import ALGORITHMS
from harness import gradients, make_torch_run, torch_steps, training
from snapshots import assert_same, bits_equal, snapshot

pytestmark = pytest.mark.usefixtures("one_torch_thread")

KWARGS = {"SGD": dict(momentum=0.9), "RMSprop": dict(momentum=0.5)}
BAD = (float("nan"), float("inf"), -float("inf"))


def poisoned(params, step, bad=float("nan")):
    """The harness's gradients of ``step`` with one bad value in the first tensor of group 1."""
    grads = gradients(step, [p.detach() for p in params])
    grads[3] = grads[3].clone()
    grads[3].view(-1)[1] = bad
    return grads


def set_grads(params, grads):
    for p, g in zip(params, grads, strict=True):
        p.grad = g


def build(algo, policy, **extra):
    kwargs = {**KWARGS.get(algo, {}), **extra}
    return make_torch_run(lambda p, **kw: getattr(ak, algo)(p, nonfinite=policy, **kw), kwargs, torch.float32)


@pytest.mark.parametrize("bits", [32, 8])
@pytest.mark.parametrize("algo", ALGORITHMS)
def test_skip_equals_a_run_without_the_bad_batch(algo, bits):
    if bits not in allowed_bits(getattr(ak, algo).rule):
        pytest.skip(f"{algo} keeps 32-bit state only")
    params, opt = build(algo, "skip", state_bits=bits)
    clean, twin = build(algo, "skip", state_bits=bits)
    torch_steps(params, opt, 4)
    torch_steps(clean, twin, 4)
    before = snapshot(opt, params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for bad in BAD:
            set_grads(params, poisoned(params, 4, bad))
            opt.step()
    assert_same(snapshot(opt, params), before)  # parameters and state keep their bits
    assert opt.skipped_steps == 3
    assert [str(w.message) for w in caught if "skipped" in str(w.message)].__len__() == 1  # warned once
    assert "param group 1, parameter 0" in str(caught[0].message)
    torch_steps(params, opt, 4, start=4)
    torch_steps(clean, twin, 4, start=4)
    assert_same(snapshot(opt, params), snapshot(twin, clean))


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_raise_names_the_group_and_index_and_changes_nothing(algo):
    params, opt = build(algo, "raise")
    torch_steps(params, opt, 3)
    before = snapshot(opt, params)
    set_grads(params, poisoned(params, 3, float("inf")))
    with pytest.raises(FloatingPointError, match=r"param group 1, parameter 0 \(shape \(5,\)"):
        opt.step()
    assert_same(snapshot(opt, params), before)
    torch_steps(params, opt, 1, start=3)  # finite gradients: it steps again
    assert opt.skipped_steps == 0


# torch.optim's peers; not its Adafactor, which fails on the harness's zero-size parameter
@pytest.mark.parametrize("algo", [a for a in ALGORITHMS if hasattr(torch.optim, a) and a != "Adafactor"])
def test_propagate_puts_nan_where_torch_optim_does(algo):
    ours, opt = build(algo, "propagate")
    theirs, peer = make_torch_run(getattr(torch.optim, algo), KWARGS.get(algo, {}), torch.float32)
    for params, optimizer in ((ours, opt), (theirs, peer)):
        torch_steps(params, optimizer, 2)
        set_grads(params, poisoned(params, 2))
        optimizer.step()
        torch_steps(params, optimizer, 2, start=3)
    for a, b in zip(ours, theirs, strict=True):
        assert torch.equal(a.isnan(), b.isnan())
        assert torch.allclose(a.nan_to_num(), b.nan_to_num(), rtol=1e-5, atol=1e-6)
    assert opt.skipped_steps == 0


def test_propagate_costs_no_check(monkeypatch):
    def forbidden(_groups):
        raise AssertionError("the default policy must not read the gradients")

    monkeypatch.setattr(adamkit.torch.nonfinite, "first_nonfinite", forbidden)
    params, opt = build("Adam", "propagate")
    torch_steps(params, opt, 2)


def test_policy_edited_after_construction_is_checked():
    params, opt = build("Adam", "skip")
    opt.nonfinite = "ignore"
    set_grads(params, poisoned(params, 0))
    with pytest.raises(ValueError, match="nonfinite"):
        opt.step()


def test_sparse_gradients_are_checked():
    emb = torch.nn.Embedding(10, 3, sparse=True)
    opt = ak.Adam(emb.parameters(), nonfinite="raise")
    emb(torch.tensor([1, 2])).sum().backward()
    nan_row = torch.full((1, 3), float("nan"))
    emb.weight.grad = torch.sparse_coo_tensor([[1]], nan_row, (10, 3), check_invariants=True)
    with pytest.raises(FloatingPointError, match="param group 0, parameter 0"):
        opt.step()


@pytest.mark.parametrize("policy", ["skip", "raise"])
def test_grad_scaler_skips_overflow_before_the_policy_sees_it(policy):
    """GradScaler unscales, finds the inf and does not call step: no skip counted, no error; the
    run equals torch.optim.Adam's under the same scaler."""

    def run(make):
        torch.manual_seed(0)
        model = torch.nn.Linear(8, 1)
        opt = make(model.parameters())
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
        x, y = torch.randn(32, 8), torch.randn(32, 1)
        for step in range(12):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            scaler.scale(loss).backward()
            if step in (3, 7):  # an overflow, as float16 activations would give
                model.weight.grad[0, 0] = float("inf")
            scaler.step(opt)
            scaler.update()
        return model, opt, scaler

    ours, opt, scaler = run(lambda p: ak.Adam(p, lr=1e-2, nonfinite=policy))
    theirs, _, their_scaler = run(lambda p: torch.optim.Adam(p, lr=1e-2))
    assert opt.skipped_steps == 0
    assert scaler.get_scale() == their_scaler.get_scale() < 2.0**8  # the scaler backed off twice
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-7)


def test_deepcopy_keeps_the_policy():
    import copy

    _, opt = build("Adam", "raise")
    assert copy.deepcopy(opt).nonfinite == "raise"


# --- SWATS: a non-finite projection never freezes the switch estimate


def test_swats_estimate_ignores_non_finite_projections():
    hp = SWATS_RULE.hyper(lr=0.01)
    state = {"lr_estimate": 0.02, "switched": 0.0}
    for step_sq, dot in ((math.nan, -1.0), (1.0, math.nan), (math.inf, -1.0), (1.0, -1e-320)):
        assert after_adam_step(3.0, step_sq, dot, state, hp) == ({}, False)
    scalars, _ = after_adam_step(3.0, 1.0, -2.0, {"lr_estimate": math.nan, "switched": 0.0}, hp)
    assert math.isfinite(scalars["lr_estimate"])  # a poisoned estimate starts again


@pytest.mark.parametrize("fused", [False, None])
def test_swats_still_switches_after_a_nan_batch(fused):
    """Before: one NaN made lr_estimate NaN for good and the switch never came."""
    w = torch.nn.Parameter(torch.tensor([3.0, -1.0, 0.5]))
    opt = ak.SWATS([w], lr=0.01, fused=fused, nonfinite="skip")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for step in range(60):
            w.grad = 2 * w.detach()
            if step == 1:
                w.grad[0] = float("nan")
            opt.step()
    assert opt.skipped_steps == 1
    assert opt.switches()[0].switched
    assert math.isfinite(float(opt.state[w]["lr_estimate"]))


# --- NumPy front end


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_numpy_policies(algo):
    def fresh(policy):
        a, b = np.array([1.0, -2.0]), np.array([0.5, 0.25, 3.0])
        opt = getattr(adamkit.numpy, algo)([a, b], lr=0.1, nonfinite=policy, **KWARGS.get(algo, {}))
        return a, b, training(opt)

    a, b, opt = fresh("skip")
    ca, cb, clean = fresh("skip")
    opt.step([2 * a, 2 * b])
    clean.step([2 * ca, 2 * cb])
    with pytest.warns(RuntimeWarning, match=r"gradient 1 \(param group 0, parameter 1\)"):
        opt.step([2 * a, np.array([np.nan, 1.0, 1.0])])
    assert opt.skipped_steps == 1
    opt.step([2 * a, 2 * b])
    clean.step([2 * ca, 2 * cb])
    assert np.array_equal(a, ca) and np.array_equal(b, cb)

    a, b, opt = fresh("raise")
    opt.step([2 * a, 2 * b])
    before = (a.copy(), b.copy())
    with pytest.raises(FloatingPointError, match=r"gradient 0 \(param group 0, parameter 0\)"):
        opt.step([np.array([np.inf, 0.0]), 2 * b])
    assert np.array_equal(a, before[0]) and np.array_equal(b, before[1])
    with pytest.raises(ValueError, match="nonfinite"):
        fresh("sometimes")


def test_bits_equal_tells_nan_payloads_and_signed_zeros_apart():
    """The helper the skip tests rely on is exact, not approximate."""
    assert bits_equal(torch.tensor([float("nan")]), torch.tensor([float("nan")]))
    assert not bits_equal(torch.tensor([0.0]), torch.tensor([-0.0]))
    assert not bits_equal(torch.tensor([1.0]), torch.tensor([1.0], dtype=torch.float64))


@pytest.mark.parametrize(
    "grad",
    [
        torch.full((1000,), 1e30),
        torch.full((1000,), 6e4, dtype=torch.float16),
        torch.full((10,), 1e300, dtype=torch.float64),
    ],
    ids=["float32-1e30", "float16-6e4", "float64-1e300"],
)
def test_huge_finite_gradients_are_not_taken_for_non_finite(grad):
    """The fast check's norm overflows here; the exact test must clear them."""
    w = torch.nn.Parameter(torch.zeros_like(grad))
    opt = ak.SGD([w], lr=1e-40 if grad.dtype != torch.float16 else 1e-8, nonfinite="raise")
    w.grad = grad
    opt.step()
    assert torch.isfinite(w).all() and not torch.equal(w, torch.zeros_like(w))
