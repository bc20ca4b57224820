"""SWATS's fused engine against its reference engine, through the switch.

The generic tests (tests/test_fused.py) run SWATS's case rows on the harness's small
problem; here a noisy quadratic with tensors of one, two and three kernel blocks (the
group large enough for the parallel kernel) lets each tensor run a real Adam phase and
switch at its own step (20, 39 and 56 with the default problem), so one group holds
tensors in both phases for many steps. The two engines run apart for 200 steps and must
switch at the same steps and end within float rounding (relative 1e-6 in float32, whose
switch sums the reference engine rounds in float32 and the kernel in float64; 1e-10 in
float64). Every run checks that the fused engine sent no tensor to the reference engine.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import adamkit.rules.swats as swats_rule
from adamkit.torch import SWATS, fused
from adamkit.torch.kernels import jit
from harness import rel_diff, state_diffs

pytestmark = pytest.mark.skipif(fused.kernel_for(SWATS.rule) is None, reason="numba is not installed")

SHAPES = [(40,), (300, 70), (257, 200)]  # 1, 2 and 4 blocks of jit.BLOCK; 72,440 values > PARALLEL_MIN
KWARGS = dict(lr=1e-2, switch_tol=1e-5)
TOLERANCE = {torch.float32: 1e-6, torch.float64: 1e-10}
SCALARS = swats_rule.SCALARS


def forbid_reference(opt) -> None:
    """Fail if the fused engine hands any parameter to the reference engine (parity would be trivial)."""

    def refuse(rule, group, state):
        raise AssertionError(f"fused engine fell back to the reference engine for {len(group['params'])}")

    opt._engine.reference.step_group = refuse


class Problem:
    """A noisy quadratic, ``sum(c * p**2) / 2`` per tensor, its noise fixed by the step number.

    ``maximize`` hands over the gradient of the negated objective, so that ascending it
    follows the same trajectory as descending the quadratic.
    """

    def __init__(self, dtype: torch.dtype, shapes=SHAPES, maximize: bool = False) -> None:
        gen = torch.Generator().manual_seed(0)
        self.dtype, self.sign = dtype, -1.0 if maximize else 1.0
        self.start = [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for s in shapes]
        self.scales = [
            (torch.rand(s, generator=gen, dtype=torch.float64) * 2 + 0.5).to(dtype) for s in shapes
        ]

    def params(self) -> list[torch.Tensor]:
        return [p.clone().requires_grad_(True) for p in self.start]

    def set_grads(self, params: list[torch.Tensor], step: int) -> None:
        gen = torch.Generator().manual_seed(100 + step)
        for p, c in zip(params, self.scales, strict=True):
            noise = 0.5 * torch.randn(p.shape, generator=gen, dtype=torch.float64).to(self.dtype)
            p.grad = self.sign * (c * p.detach() + noise)

    def steps(self, params, opt, steps: int, start: int = 0) -> None:
        for step in range(start, start + steps):
            self.set_grads(params, step)
            opt.step()


def run(problem: Problem, fused_flag: bool | None, kwargs: dict, steps: int = 200):
    params = problem.params()
    opt = SWATS(params, fused=fused_flag, **kwargs)
    if fused_flag is None:
        forbid_reference(opt)
    problem.steps(params, opt, steps)
    return params, opt


def assert_same_state_layout(a, b, params_a, params_b) -> None:
    """Same keys, dtypes and shapes whichever engine wrote the state; scalars as 0-dim tensors."""
    for x, y in zip(params_a, params_b, strict=True):
        assert set(a.state[x]) == set(b.state[y])
        for key, value in b.state[y].items():
            assert isinstance(a.state[x][key], torch.Tensor), key
            assert (a.state[x][key].dtype, a.state[x][key].shape) == (value.dtype, value.shape), key
        for key in SCALARS:
            assert a.state[x][key].dim() == 0, key


def test_fused_is_the_default_and_false_the_reference_engine():
    p = [torch.zeros(3, requires_grad=True)]
    assert SWATS(p).engine == "fused"
    assert SWATS(p, fused=True).engine == "fused"
    assert SWATS(p, fused=False).engine == "reference"
    assert "engine=fused" in repr(SWATS(p))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize(
    "extra,switch_steps",
    [({}, [39, 56, 20]), ({"weight_decay": 0.1}, [27, 18, 19]), ({"maximize": True}, [39, 56, 20])],
    ids=["plain", "weight_decay", "maximize"],
)
def test_fused_equals_reference_through_the_switch(dtype, extra, switch_steps):
    """200 steps apart: the same switch steps (mid-run) and the same parameters and state."""
    problem = Problem(dtype, maximize=extra.get("maximize", False))
    kwargs = {**KWARGS, **extra}
    pa, a = run(problem, None, kwargs)
    pb, b = run(problem, False, kwargs)
    assert (a.engine, b.engine) == ("fused", "reference")
    assert [s.step for s in a.switches()] == [s.step for s in b.switches()] == switch_steps
    for x, y in zip(a.switches(), b.switches(), strict=True):
        assert abs(x.sgd_lr - y.sgd_lr) <= TOLERANCE[dtype] * y.sgd_lr
    assert_same_state_layout(a, b, pa, pb)
    diffs = state_diffs(a, b, pa, pb)
    worst = max(diffs, key=diffs.get)
    assert diffs[worst] <= TOLERANCE[dtype], f"{worst}: {diffs[worst]:.3e}"
    moved = max(rel_diff(p.detach(), p0) for p, p0 in zip(pa, problem.start, strict=True))
    assert moved > 0.5  # the runs went somewhere: the comparison is not of two resting points


def test_a_group_in_both_phases_runs_one_table_per_phase(monkeypatch):
    """Each tensor switches at its own step; meanwhile the group's Adam-phase and SGD-phase
    tensors are updated by one kernel call each, in the same step."""
    launched: list[list[str]] = []
    launch = fused.Table.launch

    def spy(table):
        launched[-1].append(table.kernel.name)
        return launch(table)

    monkeypatch.setattr(fused.Table, "launch", spy)
    problem = Problem(torch.float64)
    params = problem.params()
    opt = SWATS(params, **KWARGS)
    forbid_reference(opt)
    for step in range(200):
        launched.append([])
        problem.steps(params, opt, 1, start=step)
    switch_steps = [s.step for s in opt.switches()]
    assert switch_steps == [39, 56, 20]
    for step, names in enumerate(launched):
        # the tensors that had switched before this step (switch_step < step + 1) took SGD's kernel
        on_sgd = [k < step + 1 for k in switch_steps]
        expected = (["swats-adam"] if not all(on_sgd) else []) + (["swats-sgd"] if any(on_sgd) else [])
        assert sorted(names) == expected, step
    assert sum(len(names) == 2 for names in launched) == 56 - 20  # steps 21..56: both phases at once
    pb, b = run(problem, False, KWARGS)
    diffs = state_diffs(opt, b, params, pb)
    worst = max(diffs, key=diffs.get)
    assert diffs[worst] <= 1e-10, f"{worst}: {diffs[worst]:.3e}"


@pytest.mark.parametrize("fused_flag", [None, False], ids=["fused", "reference"])
def test_momentum_buffer_is_zeroed_at_the_switch(fused_flag):
    """The SGD phase starts from a zero buffer, whatever the buffer held before (a checkpoint's)."""
    problem = Problem(torch.float64)
    params = problem.params()
    opt = SWATS(params, fused=fused_flag, **KWARGS)
    problem.steps(params, opt, 1)
    for p in params:
        opt.state[p]["momentum_buffer"].fill_(7.0)
    for step in range(1, 60):
        problem.steps(params, opt, 1, start=step)
        for p, s in zip(params, opt.switches(), strict=True):
            buffer = opt.state[p]["momentum_buffer"]
            if not s.switched:
                assert torch.all(buffer == 7.0)
            elif s.step == step + 1:  # switched at this step: SGD has not run yet
                assert torch.all(buffer == 0.0), (step, s)
    assert all(s.switched for s in opt.switches())


def test_scheduler_after_the_switch_in_both_engines():
    """The SGD rate follows the group's lr after the switch (lr / lr_at_switch), fused as reference."""

    def scheduled(fused_flag):
        problem = Problem(torch.float64)
        params = problem.params()
        opt = SWATS(params, fused=fused_flag, **KWARGS)
        problem.steps(params, opt, 100)
        opt.param_groups[0]["lr"] *= 0.3
        problem.steps(params, opt, 50, start=100)
        return params, opt

    pa, a = scheduled(None)
    pb, b = scheduled(False)
    diffs = state_diffs(a, b, pa, pb)
    worst = max(diffs, key=diffs.get)
    assert diffs[worst] <= 1e-10, f"{worst}: {diffs[worst]:.3e}"
    unscheduled, _ = run(Problem(torch.float64), None, KWARGS, steps=150)
    assert rel_diff(pa[2].detach(), unscheduled[2].detach()) > 1e-3  # the lr change did act


def _state_dict_copy(opt) -> dict:
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("first", [None, False], ids=["fused->reference", "reference->fused"])
def test_switching_engines_mid_run_continues_identically(first, dtype):
    """Saved at step 45 (two tensors on SGD, one on Adam), loaded into the other engine: the
    continuation equals the first engine's own continuation, switch of the third tensor included."""
    second = False if first is None else None
    problem = Problem(dtype)
    p1, o1 = run(problem, first, KWARGS, steps=45)
    assert [s.switched for s in o1.switches()] == [True, False, True]
    saved = _state_dict_copy(o1)
    p2 = problem.params()
    o2 = SWATS(p2, fused=second, **KWARGS)
    assert o1.engine != o2.engine
    with torch.no_grad():
        for a, b in zip(p2, p1, strict=True):
            a.copy_(b)
    o2.load_state_dict(saved)
    assert_same_state_layout(o2, o1, p2, p1)
    for o, p in ((o1, p1), (o2, p2)):
        if o.engine == "fused":
            forbid_reference(o)
        problem.steps(p, o, 155, start=45)
    assert [s.step for s in o2.switches()] == [s.step for s in o1.switches()] == [39, 56, 20]
    diffs = state_diffs(o2, o1, p2, p1)
    worst = max(diffs, key=diffs.get)
    assert diffs[worst] <= TOLERANCE[dtype], f"{worst}: {diffs[worst]:.3e}"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_the_kernel_sums_are_the_step_as_applied(dtype, monkeypatch):
    """The sums the host decides on are sum(p*p) and sum(p*g) of each tensor (p the step as
    applied, g the signed, L2-decayed gradient), over all its blocks, zero for a zero-size tensor;
    and the decision is the rule's own function."""
    from adamkit.torch.kernels import swats as swats_kernels

    assert swats_kernels.after_adam_step is swats_rule.after_adam_step
    seen = []

    def record(k, step_sq, step_dot_grad, state, hp):
        seen.append((step_sq, step_dot_grad))
        return swats_rule.after_adam_step(k, step_sq, step_dot_grad, state, hp)

    monkeypatch.setattr(swats_kernels, "after_adam_step", record)
    shapes = [(3 * jit.BLOCK + 5,), (0, 4), (7, 3)]
    problem = Problem(dtype, shapes=shapes, maximize=True)
    params = problem.params()
    opt = SWATS(params, weight_decay=0.1, maximize=True, **KWARGS)
    forbid_reference(opt)
    for step in range(3):
        problem.set_grads(params, step)
        before = [p.detach().clone() for p in params]
        seen.clear()
        opt.step()
        assert len(seen) == len(params)
        for (step_sq, step_dot_grad), p, old in zip(seen, params, before, strict=True):
            taken = (p.detach() - old).double()  # rounded in the parameter's dtype, as applied
            g = (-p.grad + 0.1 * old).double()
            want_sq, want_dot = (taken * taken).sum().item(), (taken * g).sum().item()
            assert abs(step_sq - want_sq) <= 1e-12 * abs(want_sq), (step, p.shape)
            assert abs(step_dot_grad - want_dot) <= 1e-12 * abs(want_dot), (step, p.shape)
            assert (step_sq == 0) == (p.numel() == 0)


def test_tensor_totals_add_each_tensors_blocks():
    """Per-tensor totals from per-block rows, tensors without blocks (zero-size) anywhere."""
    sizes = np.array([0, 1, 2 * jit.BLOCK + 1, 0, jit.BLOCK, 0], np.int64)
    starts = jit.block_starts(sizes)
    sums = np.arange(2 * starts[-1], dtype=np.float64).reshape(-1, 2) + 1
    totals = jit.tensor_totals(sums, starts)
    want = [sums[starts[t] : starts[t + 1]].sum(axis=0) for t in range(len(sizes))]
    assert totals.shape == (len(sizes), 2)
    assert np.array_equal(totals, np.array(want))
    assert np.array_equal(jit.tensor_totals(sums[:0], jit.block_starts(sizes[:1])), [[0.0, 0.0]])


def test_after_adam_step_is_the_papers_criterion():
    """The shared decision on its own: no projection, first step, uphill estimate, and a switch."""
    hp = swats_rule.SWATS.hyper(lr=0.01, switch_tol=1e-3)
    state = {"lr_estimate": 0.0}
    assert swats_rule.after_adam_step(2.0, 1.0, 0.0, state, hp) == ({}, False)
    new, switched = swats_rule.after_adam_step(1.0, 1e-4, -1e-2, state, hp)  # gamma 0.01, but k == 1
    assert not switched and new == {"lr_estimate": pytest.approx(1e-5)}
    new, switched = swats_rule.after_adam_step(2.0, 1e-4, 1e-2, {"lr_estimate": 1e-5}, hp)  # uphill
    assert not switched
    lam = 0.999 * 1e-5 + (1 - 0.999) * (1e-4 / 1e-2)  # the paper's average, as written
    new, switched = swats_rule.after_adam_step(2.0, 1e-4, -1e-2, {"lr_estimate": 1e-5}, hp)
    assert switched
    assert new == {
        "lr_estimate": lam,
        "switched": 1.0,
        "switch_step": 2.0,
        "sgd_lr": lam / (1 - 0.999**2),
        "lr_at_switch": 0.01,
    }
