"""Bad arguments are refused by name and change nothing (issue 17): constructors, add_param_group,
state_bits edited in param_groups, the NumPy front end; and torch.optim's layout where it differs."""

from __future__ import annotations

import re
from functools import partial

import numpy as np
import pytest
import torch

import adamkit.numpy
import adamkit.torch as ak
from cases import ALGORITHMS, BAD_INPUTS
from cases.robust import TORCH_BAD_INPUTS
from harness import make_torch_run, state_diffs, torch_steps, training
from snapshots import assert_same, snapshot

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors: threads only contend


def grads_for(params, step):
    gen = torch.Generator().manual_seed(100 + step)
    return [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]


def run_steps(opt, params, start, n):
    for step in range(start, start + n):
        for p, g in zip(params, grads_for(params, step), strict=True):
            p.grad = g
        opt.step()


@pytest.mark.parametrize("bad", TORCH_BAD_INPUTS, ids=lambda b: b.id)
def test_torch_only_arguments_are_named(bad):
    with pytest.raises(ValueError, match=re.escape(bad.word)):
        getattr(ak, bad.algo)([torch.zeros(2, requires_grad=True)], **bad.kwargs)


GROUP_BAD_INPUTS = BAD_INPUTS + [b for b in TORCH_BAD_INPUTS if "state_bits" in b.kwargs]


@pytest.mark.parametrize("bad", GROUP_BAD_INPUTS, ids=lambda b: b.id)
def test_refused_param_group_is_not_appended(bad):
    """torch appended the group before our checks ran: an lr of -1 stayed and did gradient ascent."""
    w = torch.nn.Parameter(torch.ones(3))
    opt = getattr(ak, bad.algo)([w])
    training(opt)
    extra = torch.nn.Parameter(torch.ones(2))
    with pytest.raises(ValueError, match=re.escape(bad.word)):
        opt.add_param_group({"params": [extra], **bad.kwargs})
    assert len(opt.param_groups) == 1
    extra.grad = torch.ones(2)
    w.grad = torch.ones(3)
    opt.step()  # still steps, and never touches the refused group's parameter
    assert torch.equal(extra.detach(), torch.ones(2))


@pytest.mark.parametrize(
    "algo,kwargs", [("Adam", {}), ("SGD", dict(momentum=0.9)), ("RMSprop", dict(momentum=0.5)), ("NAdam", {})]
)
@pytest.mark.parametrize("first,then", [(32, 8), (8, 32), (32, 16), (16, 8)])
def test_state_bits_edited_in_param_groups_is_honoured(algo, kwargs, first, then):
    """Editing ``state_bits`` mid-run gives what building at the new precision and loading gives."""
    params = [torch.nn.Parameter(torch.randn(64, 80, generator=torch.Generator().manual_seed(1)))]
    edited = getattr(ak, algo)(params, lr=1e-2, state_bits=first, **kwargs)
    run_steps(edited, params, 0, 3)
    saved = edited.state_dict()
    edited.param_groups[0]["state_bits"] = then
    twin = [torch.nn.Parameter(params[0].detach().clone())]
    built = getattr(ak, algo)(twin, lr=1e-2, state_bits=then, **kwargs)
    built.load_state_dict(saved)
    run_steps(edited, params, 3, 2)
    run_steps(built, twin, 3, 2)
    assert torch.equal(params[0], twin[0])
    assert edited.state_precision == built.state_precision
    a, b = edited.state[params[0]], built.state[twin[0]]
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key


def test_state_bits_edit_to_a_bad_value_is_refused_at_the_step():
    params = [torch.nn.Parameter(torch.randn(64, 80))]
    opt = ak.Adam(params, state_bits=8)
    run_steps(opt, params, 0, 2)
    opt.param_groups[0]["state_bits"] = 8.0
    before = snapshot(opt, params)
    with pytest.raises(ValueError, match=r"param group 0.*state_bits"):
        run_steps(opt, params, 2, 1)
    assert_same(snapshot(opt, params), before)
    opt.param_groups[0]["state_bits"] = 8  # put right: training goes on
    run_steps(opt, params, 2, 1)
    assert torch.isfinite(params[0]).all()


def test_sgd_without_momentum_saves_no_state_like_torch():
    params = [torch.nn.Parameter(torch.randn(4)), torch.nn.Parameter(torch.randn(3))]
    theirs = torch.optim.SGD(params, lr=0.1)
    ours = ak.SGD(params, lr=0.1)
    run_steps(ours, params, 0, 3)
    run_steps(theirs, params, 0, 3)
    assert ours.state_dict()["state"] == theirs.state_dict()["state"] == {}
    with_momentum = ak.SGD(params, lr=0.1, momentum=0.9)
    run_steps(with_momentum, params, 0, 1)
    assert sorted(with_momentum.state_dict()["state"]) == [0, 1]


NADAMS = {"nadam": dict(lr=0.01), "nadamw": dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1)}


def mu_products(opt, params):
    return [opt.state[p]["mu_product"] for p in params if p in opt.state]


def assert_mu_products_equal(ours, params_a, theirs, params_b):
    a, b = mu_products(ours, params_a), mu_products(theirs, params_b)
    assert [t.dtype for t in a] == [t.dtype for t in b]
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True)), (a, b)


@pytest.mark.parametrize("fused", [None, False], ids=["fused", "reference"])
@pytest.mark.parametrize("name", NADAMS)
def test_nadam_on_float64_params_follows_torchs_float32_mu_product(name, fused):
    """Under the default dtype float32, torch.optim.NAdam keeps ``mu_product`` in float32 even for
    float64 parameters and takes each step's scalars from that rounded product. adamkit kept it
    exact: its parameters drifted 2.0e-10 (relative) from torch's in these 200 steps, and the
    stored product was off torch's in over half of the tensor-steps (at every state precision)."""
    assert torch.get_default_dtype() == torch.float32
    kwargs = NADAMS[name]
    pa, ours = make_torch_run(partial(ak.NAdam, fused=fused), kwargs, torch.float64)
    pb, theirs = make_torch_run(torch.optim.NAdam, kwargs, torch.float64)
    for step in range(200):
        torch_steps(pa, ours, 1, start=step)
        torch_steps(pb, theirs, 1, start=step)
        assert_mu_products_equal(ours, pa, theirs, pb)  # float32, bit for bit, every step
    assert ours.engine == ("fused" if fused is None else "reference")
    diffs = state_diffs(ours, theirs, pa, pb)
    worst = max(diffs, key=diffs.get)
    assert diffs[worst] <= 1e-12, f"{worst}: {diffs[worst]:.3e}"
    saved, torchs = ours.state_dict()["state"], theirs.state_dict()["state"]
    assert {i: s["mu_product"].dtype for i, s in saved.items()} == {
        i: s["mu_product"].dtype for i, s in torchs.items()
    }


@pytest.mark.parametrize("fused,bits", [(None, 32), (False, 32), (None, 16), (False, 8)])
def test_nadam_mu_product_is_torchs_at_every_state_precision(fused, bits):
    """float32 parameters: the same float32 ``mu_product`` as torch.optim's, bit for bit, each step."""
    pa, ours = make_torch_run(partial(ak.NAdam, fused=fused, state_bits=bits), NADAMS["nadam"], torch.float32)
    pb, theirs = make_torch_run(torch.optim.NAdam, NADAMS["nadam"], torch.float32)
    for step in range(60):
        torch_steps(pa, ours, 1, start=step)
        torch_steps(pb, theirs, 1, start=step)
        assert_mu_products_equal(ours, pa, theirs, pb)


def test_nadam_resumed_from_a_checkpoint_continues_as_torch_does():
    """torch.optim's load casts ``mu_product`` to a float64 parameter's dtype, and its later steps
    keep it in float64: a loaded adamkit NAdam does the same (it kept the saved float32 before)."""
    pa, first = make_torch_run(torch.optim.NAdam, NADAMS["nadam"], torch.float64)
    torch_steps(pa, first, 20)
    saved = first.state_dict()
    runs = []
    for cls in (ak.NAdam, torch.optim.NAdam):
        params, opt = make_torch_run(cls, NADAMS["nadam"], torch.float64)
        with torch.no_grad():
            for p, q in zip(params, pa, strict=True):
                p.copy_(q)
        opt.load_state_dict(saved)
        runs.append((opt, params))
    (ours, p_ours), (theirs, p_theirs) = runs
    for step in range(20, 60):
        torch_steps(p_ours, ours, 1, start=step)
        torch_steps(p_theirs, theirs, 1, start=step)
        assert_mu_products_equal(ours, p_ours, theirs, p_theirs)  # float64 after the load, as torch's


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_numpy_refuses_integer_parameters(algo):
    with pytest.raises(ValueError, match=r"parameter 1 has dtype int64"):
        getattr(adamkit.numpy, algo)([np.zeros(2), np.arange(3)])


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_numpy_step_is_atomic(algo):
    """A shape error on the second gradient used to leave the first parameter moved and counted."""
    a, b = np.array([1.0, -2.0]), np.array([0.5, 0.25, 3.0])
    opt = training(getattr(adamkit.numpy, algo)([a, b], lr=0.1))
    opt.step([2 * a, 2 * b])
    state = [None if s is None else {k: np.copy(v) for k, v in s.items()} for s in opt.state]
    before = (a.copy(), b.copy(), state)
    with pytest.raises(ValueError, match="gradient 1 has shape"):
        opt.step([2 * a, np.ones(2)])
    assert np.array_equal(a, before[0]) and np.array_equal(b, before[1])
    for now, then in zip(opt.state, before[2], strict=True):
        assert now.keys() == then.keys()
        for key in now:
            assert np.array_equal(now[key], then[key]), key
