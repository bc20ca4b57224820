"""Adafactor's Triton passes (:mod:`adamkit.torch.gpu.adafactor`) against its numba passes and its rule.

On a CUDA device where there is one, else in Triton's interpreter (``TRITON_INTERPRET=1``, set by
``conftest.py``): the CPU's runner is swapped for the Triton one, so the Adafactor engine builds the
same rows for either. Every step is held to the CPU engine's standard against the rule, from the same
parameters and state (relative 1e-6 in float32, 1e-12 in float64: only the float64 sums of squares
add in another order), and the whole run to the same against the numba passes. Skipped where Triton
is not installed.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

pytest.importorskip("triton")
pytest.importorskip("numba")

import adamkit.torch as ak  # noqa: E402
from adamkit.torch import fused_adafactor  # noqa: E402
from harness import rel_diff, state_diffs  # noqa: E402
from triton_cases import TRITON_DEVICE  # noqa: E402

#: empty, a scalar, a vector under a program, matrices of several row programs and column sweeps
#: (ROWS 32, COLS 128), of fewer columns than a sweep, a 3-D tensor (factored per slice), a vector
#: of several programs and a partial one
SIZES = [(0,), (), (5,), (40, 150), (70, 3), (3, 5, 7), (2500,)]
CASES = [
    {},  # eps1 None: the dtype's machine epsilon
    {"weight_decay": 0.1, "maximize": True},
    {"eps": (1e-3, 1e-2), "beta2_decay": -0.5, "d": 1.5, "lr": 0.05},
]
STEPS = 4


def run(
    kwargs: dict, dtype: torch.dtype, engine: str, monkeypatch, check_step=None, spoiled: bool = False
) -> tuple[list, list]:
    """Parameters and state (on the CPU) after ``STEPS`` steps on fixed gradients with ``engine``
    ("triton" or "numba"); ``check_step(params, opt, before)`` after each step, ``before`` the
    parameters and state before it; ``spoiled``: a NaN in the (40, 150) matrix's gradient at step 2,
    an infinity in the (3, 5, 7) tensor's, and the first 100 of the vector's gradients zero."""
    device = TRITON_DEVICE if engine == "triton" else "cpu"
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(s, generator=gen, dtype=dtype).to(device).requires_grad_() for s in SIZES]
    grads = [[torch.randn(s, generator=gen, dtype=dtype) for s in SIZES] for _ in range(STEPS)]
    if spoiled:
        grads[2][3][7, 9] = float("nan")
        grads[2][5][1, 2, 3] = -float("inf")
        for step in grads:
            step[6][:100] = 0.0
    grads = [[g.to(device) for g in step] for step in grads]
    with monkeypatch.context() as patch:
        if engine == "triton" and device == "cpu":
            patch.setitem(fused_adafactor.RUNNERS, "cpu", "adamkit.torch.gpu.adafactor:run_passes")
        opt = ak.Adafactor(params, **kwargs)
        patch.setattr(opt._engine.reference, "step_group", refuse)  # a fallback would hide the kernels
        for k in range(STEPS):
            before = [(p.detach().clone(), {key: copy(v) for key, v in opt.state[p].items()}) for p in params]
            for p, g in zip(params, grads[k], strict=True):
                p.grad = g.clone()
            opt.step()
            if check_step is not None:
                check_step(params, opt, before)
        assert {opt.engine_of(p) for p in params} == {"fused"}
    state = [{k: copy(v).cpu() if torch.is_tensor(v) else v for k, v in opt.state[p].items()} for p in params]
    return [p.detach().cpu() for p in params], state


def copy(value):
    return value.clone() if torch.is_tensor(value) else value


def refuse(rule, group, state):
    raise AssertionError(f"the engine handed {len(group['params'])} tensors to the reference engine")


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-6)], ids=["f64", "f32"])
@pytest.mark.parametrize("kwargs", CASES, ids=["defaults", "decay-maximize", "eps1-set"])
def test_triton_adafactor_takes_the_rule_s_step_and_the_numba_engine_s(kwargs, dtype, tol, monkeypatch):
    rule = ak.Adafactor([torch.zeros(1, requires_grad=True)], fused=False, **kwargs)
    worst: dict[str, float] = {}

    def same_as_the_rule(params, opt, before):
        """The rule's step from the same parameters and state (on the CPU), every tensor and state entry."""
        mine = [p.detach().cpu() for p in params]
        theirs = [p.cpu().requires_grad_() for p, _ in before]
        rule.param_groups[0]["params"] = theirs
        rule.state.clear()
        for q, (_, state), p in zip(theirs, before, params, strict=True):
            rule.state[q] = {k: v.cpu() if torch.is_tensor(v) else v for k, v in state.items()}
            q.grad = p.grad.cpu()
        rule.step()
        pairs = zip(mine, params, strict=True)
        on_cpu = {m: {k: copy(v).cpu() for k, v in opt.state[p].items()} for m, p in pairs}
        diffs = state_diffs(SimpleNamespace(state=on_cpu), rule, mine, theirs)
        worst.update({k: max(v, worst.get(k, 0.0)) for k, v in diffs.items()})

    triton_params, triton_state = run(kwargs, dtype, "triton", monkeypatch, same_as_the_rule)
    numba_params, numba_state = run(kwargs, dtype, "numba", monkeypatch)
    name = max(worst, key=worst.get)
    assert worst[name] <= tol, f"against the rule: {name}: {worst[name]:.3e}"
    gen = torch.Generator().manual_seed(0)
    starts = [torch.randn(s, generator=gen, dtype=dtype) for s in SIZES]
    for i, (a, b, start) in enumerate(zip(triton_params, numba_params, starts, strict=True)):
        assert rel_diff(a, b) <= tol, f"param{i}: {rel_diff(a, b):.3e}"
        assert a.numel() == 0 or not torch.equal(a, start)  # the kernels did step
    for i, (mine, theirs) in enumerate(zip(triton_state, numba_state, strict=True)):
        assert sorted(mine) == sorted(theirs)
        assert float(mine["step"]) == float(theirs["step"]) == STEPS
        for key in set(mine) - {"step"}:
            assert mine[key].dtype == theirs[key].dtype == dtype
            assert rel_diff(mine[key], theirs[key]) <= tol, f"param{i}.{key}"


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # the interpreter's NumPy
def test_triton_adafactor_takes_non_finite_and_zero_gradients_as_the_numba_engine(monkeypatch):
    """A NaN or an infinity in a matrix's gradient spoils its factors, as the rule's do (every
    engine alike, NaN where the numba engine has NaN); zero gradients meet the ``eps1**2`` floor."""
    kwargs = {"weight_decay": 0.1}
    mine, mine_state = run(kwargs, torch.float32, "triton", monkeypatch, spoiled=True)
    theirs, theirs_state = run(kwargs, torch.float32, "numba", monkeypatch, spoiled=True)
    for a, b in zip(mine, theirs, strict=True):
        torch.testing.assert_close(a, b, equal_nan=True, rtol=1e-6, atol=1e-7)
    assert mine[3].isnan().any() and mine[5].isnan().any()
    assert not mine[6].isnan().any() and not mine[4].isnan().any()
    for a, b in zip(mine_state, theirs_state, strict=True):
        for key in set(a) - {"step"}:
            torch.testing.assert_close(a[key], b[key], equal_nan=True, rtol=1e-6, atol=1e-7)
