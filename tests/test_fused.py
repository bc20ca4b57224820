"""The fused engine against the reference engine: every case of the table, step by step.

The reference engine runs the rule itself, so it is the oracle: from the same
parameters and state, the fused kernels must take the same step, every parameter and
every state entry within float32 rounding (relative 1e-6), at each of 100 steps; run
apart for 100 steps the two stay within 1e-5; both use the same state_dict keys and
dtypes and hand over to each other mid-run without a seam. What the kernels cannot
take (half precision, non-contiguous or sparse gradients, options they do not
implement) must take the reference path and give its exact results.
"""

from __future__ import annotations

import io

import pytest
import torch

import adamkit.torch
from adamkit.torch import fused
from adamkit.torch.engine import ReferenceEngine
from cases import ALGORITHMS, CASES
from harness import make_torch_run, rel_diff, state_diffs, torch_steps, training

pytestmark = pytest.mark.skipif(
    fused.kernel_for(adamkit.torch.Adam.rule) is None, reason="numba is not installed"
)


def cls(algo: str):
    return getattr(adamkit.torch, algo)


def has_kernel(algo: str) -> bool:
    return fused.kernel_for(cls(algo).rule) is not None


def factory(algo: str, fused_flag: bool | None):
    return lambda params, **kw: cls(algo)(params, fused=fused_flag, **kw)


def kernel_supports(case) -> bool:
    """Whether the family's kernel, or its variant for the case's options (``cautious``: two passes),
    implements the case's options."""
    rule = cls(case.algo).rule
    hp = {**rule.defaults, **case.kwargs}
    return fused.kernel_for(rule).for_hyper(hp).supports(hp)


FUSED_CASES = [c for c in CASES if has_kernel(c.algo) and kernel_supports(c)]
ONE_CASE_PER_ALGO = list({c.algo: c for c in reversed(FUSED_CASES)}.values())


def forbid_reference(opt) -> None:
    """Fail if the fused engine hands any parameter to the reference engine."""

    def refuse(rule, group, state):
        shapes = [tuple(p.shape) for p in group["params"]]
        raise AssertionError(f"fused engine fell back to the reference engine for {shapes}")

    opt._engine.reference.step_group = refuse


def sync(src, dst, src_params, dst_params) -> None:
    """Give ``dst`` the parameters and state of ``src`` (copies)."""
    with torch.no_grad():
        for a, b in zip(src_params, dst_params, strict=True):
            b.copy_(a)
            state = src.state[a]
            dst.state[b] = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in state.items()}


def worst_diff(a, b, pa, pb) -> tuple[str, float]:
    diffs = state_diffs(a, b, pa, pb)
    worst = max(diffs, key=diffs.get)
    return worst, diffs[worst]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-6), (torch.float64, 1e-12)], ids=["f32", "f64"])
def test_fused_equals_reference_every_step(case, dtype, tol, float64_default):
    """At each of 100 steps, from the same parameters and state, both engines take the same step."""
    torch.set_default_dtype(dtype)
    if not has_kernel(case.algo):
        assert cls(case.algo)([torch.zeros(1, requires_grad=True)], **case.kwargs).engine == "reference"
        pytest.skip(f"no fused kernel for {case.algo}: the reference engine is used")
    if not kernel_supports(case):
        pytest.skip(f"{case.algo}'s kernel does not take {case.kwargs}: the reference engine runs it")
    pa, a = make_torch_run(factory(case.algo, None), case.kwargs, dtype)
    pb, b = make_torch_run(factory(case.algo, False), case.kwargs, dtype)
    assert (a.engine, b.engine) == ("fused", "reference")
    forbid_reference(a)
    for step in range(100):
        torch_steps(pa, a, 1, start=step)
        torch_steps(pb, b, 1, start=step)
        worst, diff = worst_diff(a, b, pa, pb)
        assert diff <= tol, f"step {step}: {worst}: {diff:.3e}"
        for x, y in zip(pa, pb, strict=True):
            assert set(a.state[x]) == set(b.state[y])
            for key, value in b.state[y].items():
                if isinstance(value, torch.Tensor):
                    assert a.state[x][key].dtype == value.dtype, key
        sync(a, b, pa, pb)


@pytest.mark.parametrize("case", FUSED_CASES, ids=lambda c: c.id)
def test_fused_trajectory_tracks_reference(case):
    """Run apart for 100 float32 steps, the engines stay within float32 rounding of each other.

    Not bit for bit: the kernels' square roots are correctly rounded, torch's (the reference
    engine computes with torch ops) are not always, and a last-bit difference can grow a
    little along a trajectory (RMSprop's momentum buffer sums many of them). 1e-5, as the
    float32 parity tests against torch.optim.
    """
    pa, a = make_torch_run(factory(case.algo, None), case.kwargs, torch.float32)
    pb, b = make_torch_run(factory(case.algo, False), case.kwargs, torch.float32)
    torch_steps(pa, a, 100)
    torch_steps(pb, b, 100)
    worst, diff = worst_diff(a, b, pa, pb)
    assert diff <= 1e-5, f"{worst}: {diff:.3e}"


def _large_run(algo: str, kwargs: dict, fused_flag: bool | None, steps: int):
    """A tensor several parallel blocks long (and not a multiple of a block): the multi-core path."""
    from adamkit.torch.kernels.jit import BLOCK, PARALLEL_MIN

    gen = torch.Generator().manual_seed(7)
    n = PARALLEL_MIN + 2 * BLOCK + 123
    p = torch.randn(n, generator=gen).requires_grad_(True)
    opt = training(cls(algo)([p], fused=fused_flag, **kwargs))
    if fused_flag is None:
        forbid_reference(opt)
    for _ in range(steps):
        p.grad = p.detach() + 0.3 * torch.randn(n, generator=gen)
        opt.step()
    return p, opt


@pytest.mark.parametrize("case", FUSED_CASES, ids=lambda c: c.id)
def test_parallel_kernel_equals_reference(case):
    pa, a = _large_run(case.algo, case.kwargs, None, 10)
    pb, b = _large_run(case.algo, case.kwargs, False, 10)
    worst, diff = worst_diff(a, b, [pa], [pb])
    assert diff <= 1e-5, f"after 10 steps: {worst}: {diff:.3e}"
    sync(a, b, [pa], [pb])
    for opt, p in ((a, pa), (b, pb)):
        p.grad = torch.linspace(-1, 1, p.numel()) + 0.5 * p.detach()
        opt.step()
    worst, diff = worst_diff(a, b, [pa], [pb])
    assert diff <= 1e-6, f"one step from the same state: {worst}: {diff:.3e}"


def _state_dict_copy(opt) -> dict:
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@pytest.mark.parametrize("case", ONE_CASE_PER_ALGO, ids=lambda c: c.id)
@pytest.mark.parametrize("first", [None, False], ids=["fused->reference", "reference->fused"])
def test_switching_engines_mid_training(case, first, float64_default):
    second = False if first is None else None
    p1, o1 = make_torch_run(factory(case.algo, first), case.kwargs)
    torch_steps(p1, o1, 30)
    saved = _state_dict_copy(o1)
    p2, o2 = make_torch_run(factory(case.algo, second), case.kwargs)
    assert o1.engine != o2.engine
    with torch.no_grad():
        for a, b in zip(p2, p1, strict=True):
            a.copy_(b)
    o2.load_state_dict(saved)
    # same keys and dtypes whichever engine wrote the state
    for a, b in zip(p2, p1, strict=True):
        assert set(o2.state[a]) == set(o1.state[b])
        for key, value in o1.state[b].items():
            if isinstance(value, torch.Tensor):
                assert o2.state[a][key].dtype == value.dtype, key
    torch_steps(p1, o1, 30, start=30)
    torch_steps(p2, o2, 30, start=30)
    diffs = state_diffs(o2, o1, p2, p1)
    worst = max(diffs, key=diffs.get)
    assert diffs[worst] <= 1e-12, f"{worst}: {diffs[worst]:.3e}"


@pytest.mark.parametrize("algo", ["Adam", "AdamW"])
def test_fused_is_the_default_on_cpu(algo):
    p = [torch.zeros(3, requires_grad=True)]
    assert cls(algo)(p).engine == "fused"
    assert cls(algo)(p, fused=True).engine == "fused"
    assert cls(algo)(p, fused=False).engine == "reference"
    assert "engine=fused" in repr(cls(algo)(p))


@pytest.mark.parametrize("algo", [a for a in ALGORITHMS if not has_kernel(a)] or ["none"])
def test_fused_true_raises_without_a_kernel(algo):
    if algo == "none":
        pytest.skip("every algorithm has a fused kernel")
    p = [torch.zeros(3, requires_grad=True)]
    assert cls(algo)(p).engine == "reference"
    with pytest.raises(ValueError, match="fused=True"):
        cls(algo)(p, fused=True)


def _mixed_params():
    """float32 (kernel), float16 and bfloat16 (reference), a non-contiguous grad (reference), complex."""
    gen = torch.Generator().manual_seed(5)
    return [
        torch.randn(6, 5, generator=gen),
        torch.randn(7, generator=gen).half(),
        torch.randn(4, 3, generator=gen).bfloat16(),
        torch.randn(5, 4, generator=gen),
        torch.randn(6, dtype=torch.complex64, generator=gen),
    ]


#: algorithms that refuse complex parameters, as torch.optim's do
NO_COMPLEX = {"Adafactor"}


def _mixed_run(algo: str, kwargs: dict, fused_flag: bool | None):
    params = [p.clone().requires_grad_(True) for p in _mixed_params()]
    if algo in NO_COMPLEX:
        params = [p for p in params if not p.is_complex()]
    opt = training(cls(algo)(params, fused=fused_flag, **kwargs))
    taken_by_reference: list[tuple] = []
    reference_step = opt._engine.reference.step_group if fused_flag is None else None
    if reference_step is not None:

        def spy(rule, group, state):
            taken_by_reference.extend(tuple(p.shape) for p in group["params"])
            reference_step(rule, group, state)

        opt._engine.reference.step_group = spy
    gen = torch.Generator().manual_seed(6)
    for _ in range(20):
        for i, p in enumerate(params):
            wide = torch.complex128 if p.is_complex() else torch.float64
            noise = torch.randn(p.shape, generator=gen, dtype=wide)
            g = (0.5 * p.detach().to(wide) + 0.3 * noise).to(p.dtype)
            p.grad = g.t().contiguous().t() if i == 3 else g  # a column-major gradient
        opt.step()
    return params, opt, taken_by_reference


@pytest.mark.parametrize("case", ONE_CASE_PER_ALGO, ids=lambda c: c.id)
def test_what_kernels_cannot_take_goes_to_the_reference_engine(case):
    pa, a, fallen_back = _mixed_run(case.algo, case.kwargs, None)
    pb, b, _ = _mixed_run(case.algo, case.kwargs, False)
    assert sorted(set(fallen_back)) == sorted({(7,), (4, 3), (5, 4)})
    for i, (x, y) in enumerate(zip(pa, pb, strict=True)):
        assert x.dtype == y.dtype
        exact = i in (1, 2, 3)  # the reference path itself: bit for bit
        assert rel_diff(x.detach(), y.detach()) <= (0.0 if exact else 1e-6), i
        for key, value in b.state[y].items():
            if isinstance(value, torch.Tensor):
                assert a.state[x][key].dtype == value.dtype
                assert rel_diff(a.state[x][key], value) <= (0.0 if exact else 1e-6), (i, key)


def test_options_without_a_kernel_send_the_group_to_the_reference_engine():
    """Keras's conventions are rule options the kernels leave to the reference engine."""

    def run(fused_flag):
        w = torch.nn.Parameter(torch.linspace(-1, 1, 8))
        group = {"params": [w], "eps_in_sqrt": True}  # eps inside the root, Keras's Adagrad
        opt = adamkit.torch.Adagrad([group], lr=0.1, eps=0.01, fused=fused_flag)
        for _ in range(5):
            w.grad = w.detach() * 2
            opt.step()
        return w.detach()

    assert torch.equal(run(None), run(False))
    plain = adamkit.torch.Adagrad([torch.zeros(1, requires_grad=True)])
    assert plain._engine.kernel.supports(plain.param_groups[0])
    assert not plain._engine.kernel.supports({**plain.param_groups[0], "eps_in_sqrt": True})


def test_sparse_gradients_take_the_reference_path():
    def run(fused_flag):
        emb = torch.nn.Embedding(10, 3, sparse=True)
        torch.nn.init.normal_(emb.weight, generator=torch.Generator().manual_seed(1))
        dense = torch.nn.Parameter(torch.ones(4))
        opt = adamkit.torch.Adam([emb.weight, dense], lr=0.1, fused=fused_flag)
        for step in range(5):
            opt.zero_grad()
            (emb(torch.tensor([1, 4, step])).pow(2).sum() + dense.pow(2).sum()).backward()
            opt.step()
        return emb.weight.detach(), dense.detach()

    (wa, da), (wb, db) = run(None), run(False)
    assert torch.equal(wa, wb)
    assert rel_diff(da, db) <= 1e-6


@pytest.mark.parametrize("fused_flag", [None, False], ids=["fused", "reference"])
def test_autograd_sees_the_parameters_change(fused_flag):
    """A graph that saved a parameter before the step must refuse to backpropagate through it after."""
    w = torch.nn.Parameter(torch.ones(3))
    opt = adamkit.torch.Adam([w], lr=0.1, fused=fused_flag)
    loss = (w * w).sum()  # saves w for backward
    loss.backward(retain_graph=True)
    version = w._version
    opt.step()
    assert w._version > version
    assert opt.state[w]["exp_avg"]._version > 0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_reference_engine_is_the_oracle_here():
    """Guard: the comparisons above are against the rule, not against the fused engine itself."""
    opt = adamkit.torch.Adam([torch.zeros(1, requires_grad=True)], fused=False)
    assert isinstance(opt._engine, ReferenceEngine)
