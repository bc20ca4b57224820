"""The modern family against the outside world: torch.optim.Adafactor, the authors' packages
(lion-pytorch, adabelief-pytorch, schedulefree), pytorch-optimizer's AdEMAMix and cautious Lion,
and optax's LAMB (or, without JAX, optax's chain transcribed in float64 NumPy below).

Every comparison runs 60 steps of the same gradient sequence (which depends on the parameters,
so a difference in one step shows in all later ones) in float64, with matrices, vectors and a
3-d tensor.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import pytest
import torch

import adamkit.torch as ak
from adamkit.rules.cautious import cautious

SHAPES = [(6, 5), (7,), (2, 3, 4), (1,)]
STEPS = 60


def start(seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=torch.float64) for s in SHAPES]


def grads_at(step: int, params: list[torch.Tensor]) -> list[torch.Tensor]:
    """Gradient of sum(0.5 p^2 + 0.05 p^4) plus noise fixed by the step (some of it sparse-ish)."""
    gen = torch.Generator().manual_seed(100 + step)
    out = []
    for p in params:
        noise = torch.randn(p.shape, generator=gen, dtype=torch.float64)
        out.append(p + 0.2 * p**3 + 0.5 * noise * (noise.abs() > 0.3))
    return out


def run(factory, steps: int = STEPS, train_mode: bool = False) -> tuple[list[torch.Tensor], Any]:
    params = [p.clone().requires_grad_(True) for p in start()]
    opt = factory(params)
    if train_mode:
        opt.train()
    for step in range(steps):
        with torch.no_grad():
            grads = grads_at(step, [p.detach() for p in params])
        for p, g in zip(params, grads, strict=True):
            p.grad = g.clone()  # some peers write into p.grad
        opt.step()
    return params, opt


def assert_same(ours: list[torch.Tensor], theirs: list[torch.Tensor], tol: float = 1e-12) -> None:
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        scale = max(b.abs().max().item(), 1e-30)
        assert (a - b).abs().max().item() / scale <= tol, f"param {i}: {(a - b).abs().max().item():.3e}"


def _moved(params: list[torch.Tensor]) -> None:
    assert any((p.detach() - s).abs().max() > 1e-3 for p, s in zip(params, start(), strict=True))


# --- Lion -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [dict(lr=1e-2), dict(lr=3e-3, betas=(0.95, 0.98), weight_decay=0.5)])
def test_lion_equals_lion_pytorch(kwargs):
    lion_pytorch = pytest.importorskip("lion_pytorch")
    ours, _ = run(lambda p: ak.Lion(p, **kwargs))
    theirs, _ = run(lambda p: lion_pytorch.Lion(p, **kwargs))
    _moved(ours)
    assert_same(ours, theirs)


def test_cautious_lion_equals_pytorch_optimizer_s():
    po = pytest.importorskip("pytorch_optimizer")
    ours, _ = run(lambda p: ak.Lion(p, lr=1e-2, weight_decay=0.1, cautious=True))
    theirs, _ = run(lambda p: po.Lion(p, lr=1e-2, weight_decay=0.1, weight_decouple=True, cautious=True))
    plain, _ = run(lambda p: ak.Lion(p, lr=1e-2, weight_decay=0.1))
    assert_same(ours, theirs)
    assert max((a - b).abs().max().item() for a, b in zip(ours, plain, strict=True)) > 1e-3  # the mask acts


# --- AdEMAMix ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [dict(lr=1e-2), dict(lr=1e-2, betas=(0.8, 0.99, 0.999), alpha=2.0, weight_decay=0.0),
     dict(lr=1e-2, t_alpha=40, t_beta3=40, weight_decay=0.1)],
)
def test_ademamix_equals_pytorch_optimizer_s(kwargs):
    po = pytest.importorskip("pytorch_optimizer")
    theirs_kwargs = {k: v for k, v in kwargs.items() if k not in ("t_alpha", "t_beta3")}
    theirs_kwargs.update(weight_decouple=True, weight_decay=kwargs.get("weight_decay", 0.01))
    if "t_alpha" in kwargs:
        theirs_kwargs["t_alpha_beta3"] = kwargs["t_alpha"]
    ours, _ = run(lambda p: ak.AdEMAMix(p, **kwargs))
    theirs, _ = run(lambda p: po.AdEMAMix(p, **theirs_kwargs))
    _moved(ours)
    assert_same(ours, theirs)


def test_ademamix_with_alpha_zero_is_adamw():
    ours, _ = run(lambda p: ak.AdEMAMix(p, lr=1e-2, alpha=0.0, weight_decay=0.1))
    adamw, _ = run(lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1))
    assert_same(ours, adamw, tol=1e-10)


# --- AdaBelief --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [dict(lr=1e-2), dict(lr=1e-2, amsgrad=True, weight_decay=0.1),
     dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True, eps=1e-8)],
)
def test_adabelief_equals_the_authors_package(kwargs):
    adabelief_pytorch = pytest.importorskip("adabelief_pytorch")
    theirs_kwargs = {k: v for k, v in kwargs.items() if k != "decoupled_weight_decay"}
    theirs_kwargs.setdefault("eps", 1e-16)
    ours, _ = run(lambda p: ak.AdaBelief(p, **kwargs))
    theirs, _ = run(
        lambda p: adabelief_pytorch.AdaBelief(
            p, rectify=False, weight_decouple=kwargs.get("decoupled_weight_decay", False),
            print_change_log=False, **theirs_kwargs,
        )
    )
    _moved(ours)
    assert_same(ours, theirs)


# --- LAMB -------------------------------------------------------------------------------------


def optax_lamb_in_numpy(params, steps, lr, b1=0.9, b2=0.999, eps=1e-6, weight_decay=0.0):
    """optax.lamb = chain(scale_by_adam, add_decayed_weights, scale_by_trust_ratio, -lr), in float64."""
    params = [p.numpy().copy() for p in params]
    mu = [np.zeros_like(p) for p in params]
    nu = [np.zeros_like(p) for p in params]
    for step in range(steps):
        grads = [g.numpy() for g in grads_at(step, [torch.from_numpy(p) for p in params])]
        t = step + 1
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            mu[i] = (1 - b1) * g + b1 * mu[i]
            nu[i] = (1 - b2) * g**2 + b2 * nu[i]
            u = (mu[i] / (1 - b1**t)) / (np.sqrt(nu[i] / (1 - b2**t)) + eps) + weight_decay * p
            pn, un = np.linalg.norm(p), np.linalg.norm(u)
            ratio = 1.0 if pn == 0 or un == 0 else pn / un
            params[i] = p - lr * ratio * u
    return [torch.from_numpy(p) for p in params]


@pytest.mark.parametrize("kwargs", [dict(lr=1e-2), dict(lr=1e-2, weight_decay=0.1)])
def test_lamb_equals_optax_s_chain(kwargs):
    ours, _ = run(lambda p: ak.LAMB(p, **kwargs))
    reference = optax_lamb_in_numpy(start(), STEPS, **kwargs)
    _moved(ours)
    assert_same(ours, reference)


def test_lamb_equals_optax_itself():
    optax = pytest.importorskip("optax")
    jnp = pytest.importorskip("jax.numpy")
    import jax

    jax.config.update("jax_enable_x64", True)
    transform = optax.lamb(1e-2, weight_decay=0.1)
    params = [jnp.asarray(p.numpy()) for p in start()]
    state = transform.init(params)
    for step in range(STEPS):
        torch_params = [torch.from_numpy(np.asarray(p)) for p in params]
        grads = [jnp.asarray(g.numpy()) for g in grads_at(step, torch_params)]
        updates, state = transform.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    ours, _ = run(lambda p: ak.LAMB(p, lr=1e-2, weight_decay=0.1))
    assert_same(ours, [torch.from_numpy(np.asarray(p)) for p in params], tol=1e-10)


def test_lamb_s_step_is_lr_times_the_parameter_norm_per_tensor():
    params, opt = run(lambda p: ak.LAMB(p, lr=1e-2), steps=5)
    before = [p.detach().clone() for p in params]
    for p, g in zip(params, grads_at(99, [p.detach() for p in params]), strict=True):
        p.grad = g
    opt.step()
    for p, b in zip(params, before, strict=True):
        assert math.isclose((p.detach() - b).norm().item(), 1e-2 * b.norm().item(), rel_tol=1e-9)


# --- Adafactor --------------------------------------------------------------------------------

ADAFACTOR_CASES = [
    dict(),
    dict(lr=0.05, beta2_decay=-0.5, eps=(1e-30, 1e-2), d=2.0, weight_decay=0.1),
    dict(maximize=True, weight_decay=0.01),
    dict(lr=torch.tensor(0.02)),
]


@pytest.mark.parametrize("kwargs", ADAFACTOR_CASES, ids=lambda k: ",".join(k) or "defaults")
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)], ids=["f64", "f32"])
def test_adafactor_equals_torch_optim(kwargs, dtype, tol):
    if isinstance(kwargs.get("lr"), torch.Tensor):
        # in the run's dtype: torch.optim.Adafactor computes its step size in the tensor's dtype
        kwargs = {**kwargs, "lr": kwargs["lr"].to(dtype)}

    def factory(cls):
        return lambda p: cls(p, **kwargs)

    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        ours, o1 = run(factory(ak.Adafactor))
        theirs, o2 = run(factory(torch.optim.Adafactor))
    finally:
        torch.set_default_dtype(old)
    _moved(ours)
    assert_same(ours, theirs, tol=tol)
    for a, b in zip(ours, theirs, strict=True):
        for key, value in o2.state[b].items():
            assert torch.allclose(o1.state[a][key].double(), value.double(), rtol=tol, atol=0), key


@pytest.mark.parametrize("first", ["torch", "adamkit"])
def test_adafactor_checkpoints_load_both_ways(first):
    classes = {"torch": torch.optim.Adafactor, "adamkit": ak.Adafactor}
    second = "adamkit" if first == "torch" else "torch"
    p1, o1 = run(lambda p: classes[first](p, lr=0.02), steps=20)
    buf = io.BytesIO()
    torch.save(o1.state_dict(), buf)
    buf.seek(0)
    p2 = [p.detach().clone().requires_grad_(True) for p in p1]
    o2 = classes[second](p2, lr=0.02)
    o2.load_state_dict(torch.load(buf, weights_only=True))
    for step in range(20, 40):
        for params, opt in ((p1, o1), (p2, o2)):
            for p, g in zip(params, grads_at(step, [p.detach() for p in params]), strict=True):
                p.grad = g
            opt.step()
    assert_same(p2, p1)


def test_adafactor_refuses_complex_parameters_as_torch_does():
    w = torch.zeros(3, dtype=torch.complex64, requires_grad=True)
    w.grad = torch.ones_like(w)
    with pytest.raises(RuntimeError, match="complex"):
        ak.Adafactor([w]).step()


# The fused engine's units (tests/test_fused.py runs the case table's small tensors): a matrix of
# two units of rows (the second short), a 3-d tensor of two units per slice, a wide matrix of one
# unit, a vector of three blocks and a scalar; over 65536 values in all, so the units run in parallel.
LARGE_SHAPES = [(600, 120), (2, 300, 250), (30, 3000), (40000,), ()]


def large_run(factory, dtype, steps, per_step=None, seed=3):
    gen = torch.Generator().manual_seed(seed)
    params = [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype).requires_grad_(True)
              for s in LARGE_SHAPES]
    opt = factory(params)
    for step in range(steps):
        noise = torch.Generator().manual_seed(200 + step)
        for p in params:
            g = torch.randn(p.shape, generator=noise, dtype=torch.float64)
            p.grad = (p.detach().double() + 0.5 * g * (g.abs() > 0.3)).to(dtype)
        opt.step()
        if per_step is not None:
            per_step(step, params, opt)
    return params, opt


@pytest.mark.parametrize("kwargs", ADAFACTOR_CASES[:2], ids=lambda k: ",".join(k) or "defaults")
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-6)], ids=["f64", "f32"])
def test_fused_adafactor_takes_the_reference_engine_s_step_on_many_units(
    kwargs, dtype, tol, one_torch_thread
):
    """From the same parameters and state, at each of 5 steps, the fused engine's step is the rule's
    (relative 1e-12 in float64, 1e-6 in float32: only the sums of squares behind the two RMS round
    differently), and over the whole run it follows torch.optim.Adafactor (float64: 1e-10). On one
    thread (the next test runs the units in parallel): torch's own ops crawl on a loaded machine."""
    from harness import state_diffs

    reference = ak.Adafactor([torch.zeros(1, requires_grad=True)], fused=False, **kwargs)

    def same_step(step, params, opt):
        ref_params = [p.detach().clone().requires_grad_(True) for p in before]
        reference.param_groups[0]["params"] = ref_params
        reference.state.clear()
        for p, q in zip(ref_params, params, strict=True):
            reference.state[p] = {k: v.clone() for k, v in before_state[id(q)].items()}
            p.grad = q.grad
        reference.step()
        assert {opt.engine_of(p) for p in params} == {"fused"}
        diffs = state_diffs(opt, reference, params, ref_params)
        worst = max(diffs, key=diffs.get)
        assert diffs[worst] <= tol, f"step {step}: {worst}: {diffs[worst]:.3e}"
        keep(params, opt)

    def keep(params, opt):
        before[:] = [p.detach().clone() for p in params]
        before_state.clear()
        before_state.update({id(p): {k: v.clone() for k, v in opt.state[p].items()} for p in params})

    before, before_state = [], {}

    def factory(params):
        opt = ak.Adafactor(params, **kwargs)
        keep(params, opt)
        return opt

    ours, _ = large_run(factory, dtype, 5, same_step)
    if dtype == torch.float64:
        theirs, _ = large_run(lambda p: torch.optim.Adafactor(p, **kwargs), dtype, 5)
        assert_same(ours, theirs, tol=1e-10)


def test_fused_adafactor_does_not_depend_on_the_number_of_threads():
    """Every unit writes only its own sums: one thread and two give the same bits."""
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one, _ = large_run(lambda p: ak.Adafactor(p, weight_decay=0.1), torch.float32, 3)
        torch.set_num_threads(2)
        two, _ = large_run(lambda p: ak.Adafactor(p, weight_decay=0.1), torch.float32, 3)
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(a, b) for a, b in zip(one, two, strict=True))


def test_adafactor_engine_of_names_the_fused_engine_where_its_kernels_ran():
    """CPU float32 and float64 run on the kernels; bfloat16 and a column-major gradient on the rule."""
    params = [torch.ones(4, 3, dtype=dtype, requires_grad=True)
              for dtype in (torch.float32, torch.float64, torch.bfloat16, torch.float32)]
    opt = ak.Adafactor(params)
    assert opt.engine == "fused"
    for i, p in enumerate(params):
        p.grad = torch.ones(3, 4, dtype=p.dtype).t() if i == 3 else torch.ones_like(p)
    opt.step()
    assert [opt.engine_of(p) for p in params] == ["fused", "fused", "reference", "reference"]


# --- Schedule-Free AdamW ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [dict(lr=1e-2), dict(lr=1e-2, warmup_steps=10, weight_decay=0.1, r=1.0, betas=(0.8, 0.99)),
     dict(lr=5e-3, weight_lr_power=0.0, eps=1e-6)],
)
@pytest.mark.parametrize("fused", [None, False], ids=["fused", "reference"])
def test_schedule_free_adamw_equals_the_schedulefree_package(kwargs, fused):
    schedulefree = pytest.importorskip("schedulefree")
    ours, o1 = run(lambda p: ak.ScheduleFreeAdamW(p, fused=fused, **kwargs), train_mode=True)
    assert o1.engine_of(ours[0]) == ("reference" if fused is False else "fused")
    theirs, o2 = run(lambda p: schedulefree.AdamWScheduleFree(p, foreach=False, **kwargs), train_mode=True)
    _moved(ours)
    assert_same(ours, theirs)  # y, while training
    o1.eval()
    o2.eval()
    assert_same(ours, theirs)  # x, for evaluation
    o1.train()
    o2.train()
    assert_same(ours, theirs, tol=1e-11)  # back to y


def test_schedule_free_adamw_refuses_to_step_in_eval_mode():
    w = torch.zeros(3, requires_grad=True)
    w.grad = torch.ones(3)
    opt = ak.ScheduleFreeAdamW([w])
    with pytest.raises(RuntimeError, match=r"optimizer\.train\(\)"):
        opt.step()
    assert torch.equal(w.detach(), torch.zeros(3))
    opt.train()
    opt.step()
    assert not torch.equal(w.detach(), torch.zeros(3))


# --- cautious masking -------------------------------------------------------------------------


def test_cautious_zeroes_disagreeing_coordinates_and_rescales_the_rest():
    update = np.array([1.0, -2.0, 3.0, 0.5])
    grad = np.array([2.0, 1.0, 1.0, -1.0])  # coordinates 1 and 3 disagree
    out = cautious(update, grad)
    np.testing.assert_array_equal(out, update * np.array([1, 0, 1, 0]) * (4 / 3))
    t = cautious(torch.from_numpy(update).float(), torch.from_numpy(grad).float())
    assert t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), out, rtol=1e-6)


def cautious_adamw_in_float64(params, steps, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                              first=0, state=None):
    """Cautious AdamW (Liang et al., 2024, "Cautious Optimizers", C-AdamW) in float64 NumPy:
    ``u = m_hat / (sqrt(v_hat) + eps)``, ``phi = 1[u * g > 0]`` (the authors' code), and
    ``w -= lr * d / (nnz(phi) + 1) * phi * u``, with the decoupled decay first (torch.optim.AdamW's
    order). Steps ``first`` to ``first + steps`` of :func:`grads_at`, from ``state`` (m, v, t) if given."""
    b1, b2 = betas
    params = [p.numpy().copy() for p in params]
    m, v, t = state or ([np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params], 0)
    m, v = [x.copy() for x in m], [x.copy() for x in v]
    for step in range(first, first + steps):
        grads = [g.numpy() for g in grads_at(step, [torch.from_numpy(p) for p in params])]
        t += 1
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            u = (m[i] / (1 - b1**t)) / (np.sqrt(v[i] / (1 - b2**t)) + eps)
            phi = (u * g > 0).astype(np.float64)
            p = p * (1 - lr * weight_decay)
            params[i] = p - lr * p.size / (phi.sum() + 1) * phi * u
    return [torch.from_numpy(p) for p in params]


@pytest.mark.parametrize("fused", [None, False], ids=["fused", "reference"])
def test_cautious_adamw_equals_the_paper_s_algorithm(fused):
    ours, opt = run(lambda p: ak.AdamW(p, lr=1e-2, weight_decay=0.1, cautious=True, fused=fused))
    assert opt.engine_of(ours[0]) == ("reference" if fused is False else "fused")
    plain, _ = run(lambda p: ak.AdamW(p, lr=1e-2, weight_decay=0.1, fused=fused))
    assert_same(ours, cautious_adamw_in_float64(start(), STEPS, lr=1e-2, weight_decay=0.1))
    assert max((a - b).abs().max().item() for a, b in zip(ours, plain, strict=True)) > 1e-3  # the mask acts


def test_cautious_adamw_equals_pytorch_optimizer_s_mars_on_vectors():
    """pytorch_optimizer has no cautious AdamW of its own, but MARS updates vectors (with
    ``optimize_1d=False``) by one: AdamW's moments, its ``apply_cautious`` on the first moment (the
    update's sign: the denominator is positive), decoupled decay. Its epsilon goes in before the
    root's bias correction, ours after: with eps = 0 the two conventions agree, but for the 1e-15
    it adds to v under the root, which moves a coordinate whose v is small by about 1e-15 / v
    (hence vectors whose gradients stay near 1, and the issue's float64 bound). Only vectors: MARS
    corrects the gradient of matrices."""
    po = pytest.importorskip("pytorch_optimizer")

    def vectors(factory):
        gen = torch.Generator().manual_seed(3)
        params = [3 * torch.randn(n, generator=gen, dtype=torch.float64) for n in (40, 7)]
        params = [p.requires_grad_(True) for p in params]
        opt = factory(params)
        for step in range(STEPS):
            for p, g in zip(params, grads_at(step, [p.detach() for p in params]), strict=True):
                p.grad = g.clone()
            opt.step()
        return params

    kwargs = dict(lr=1e-2, weight_decay=0.1, eps=0.0)
    ours = vectors(lambda p: ak.AdamW(p, cautious=True, **kwargs))
    theirs = vectors(lambda p: po.MARS(p, lr=1e-2, lr_1d=1e-2, betas_1d=(0.9, 0.999), weight_decay_1d=0.1,
                                       eps=0.0, cautious=True, foreach=False))
    plain = vectors(lambda p: ak.AdamW(p, **kwargs))
    assert_same(ours, theirs, tol=1e-10)
    assert max((a - b).abs().max().item() for a, b in zip(ours, plain, strict=True)) > 1e-3


@pytest.mark.parametrize("algo", ["Adam", "AdamW"])
def test_cautious_checkpoints_load_both_ways_with_torch_optim(algo):
    """torch.optim's checkpoint into ``cautious=True``: its groups lack the key, so they take this
    optimizer's, and the run continues cautiously from torch's state (the paper's algorithm from the
    same m, v, t). adamkit's into torch.optim: the extra group key is carried and ignored, and torch
    continues as plain Adam from adamkit's state."""
    def saved(optimizer):  # a copy, as from a file (a loaded state_dict may share its tensors)
        buf = io.BytesIO()
        torch.save(optimizer.state_dict(), buf)
        buf.seek(0)
        return torch.load(buf, weights_only=True)

    theirs, torch_opt = run(lambda p: getattr(torch.optim, algo)(p, lr=1e-2, weight_decay=0.0), steps=10)
    ours = [p.detach().clone().requires_grad_(True) for p in theirs]
    opt = getattr(ak, algo)(ours, lr=1e-2, weight_decay=0.0, cautious=True)
    opt.load_state_dict(saved(torch_opt))
    assert all(group["cautious"] for group in opt.param_groups)
    state = [torch_opt.state[p] for p in theirs]
    m, v = [s["exp_avg"].numpy() for s in state], [s["exp_avg_sq"].numpy() for s in state]
    expected = cautious_adamw_in_float64([p.detach() for p in theirs], 10, lr=1e-2, first=10,
                                         state=(m, v, 10))
    for step in range(10, 20):
        for p, g in zip(ours, grads_at(step, [p.detach() for p in ours]), strict=True):
            p.grad = g
        opt.step()
    assert_same(ours, expected)

    back = getattr(torch.optim, algo)([p.detach().clone().requires_grad_(True) for p in ours], lr=1e-2)
    back.load_state_dict(saved(opt))
    assert all(group["cautious"] for group in back.param_groups)  # carried, not used
    plain = getattr(ak, algo)([p.detach().clone().requires_grad_(True) for p in ours], lr=1e-2)
    plain.load_state_dict(saved(opt))
    plain.param_groups[0]["cautious"] = False
    for o in (back, plain):
        params = o.param_groups[0]["params"]
        for step in range(20, 30):
            for p, g in zip(params, grads_at(step, [p.detach() for p in params]), strict=True):
                p.grad = g
            o.step()
    assert_same(plain.param_groups[0]["params"], back.param_groups[0]["params"], tol=1e-10)


def test_cautious_refuses_sparse_gradients():
    emb = torch.nn.Embedding(5, 2, sparse=True)
    emb(torch.tensor([1, 3])).sum().backward()
    with pytest.raises(ValueError, match="cautious=True"):
        ak.Adam(emb.parameters(), cautious=True).step()


# --- where people train: a compiled training step ---------------------------------------------

MODERN = {
    "Lion": dict(lr=1e-3, weight_decay=0.1),
    "AdEMAMix": dict(lr=1e-2, cautious=True),
    "AdamW": dict(lr=1e-2, cautious=True),
    "AdaBelief": dict(lr=1e-2, amsgrad=True),
    "LAMB": dict(lr=1e-2, weight_decay=0.1),
    "Adafactor": dict(lr=1e-2),
}


@pytest.mark.parametrize("fused", [None, False], ids=["default", "reference"])
@pytest.mark.parametrize("name", list(MODERN))
def test_a_compiled_training_step_equals_eager_mode(name, fused, one_torch_thread):
    from test_compile import assert_same_run, train

    def make_opt(params):
        return getattr(ak, name)(params, **MODERN[name], fused=fused)

    compiled = train(make_opt, backend="eager")
    assert compiled[3].op_count > 0  # Dynamo compiled the model around the step
    if name == "Adafactor" and fused is None:  # its own engine (factors of rows and columns) ran
        assert {compiled[1].engine_of(p) for p in compiled[0].parameters()} == {"fused"}
    assert_same_run(compiled, train(make_opt))


@pytest.mark.parametrize("kwargs", [dict(lr=1e-2), dict(lr=1e-2, warmup_steps=10, weight_decay=0.1, r=1.0)])
def test_numpy_schedule_free_adamw_with_train_and_eval_equals_the_schedulefree_package(kwargs):
    """adamkit.numpy's train()/eval() move the arrays as schedulefree moves torch's parameters,
    switched mid-run (evaluations between training stretches), in float64."""
    schedulefree = pytest.importorskip("schedulefree")
    import adamkit.numpy as aknp

    arrays = [p.numpy().copy() for p in start()]
    theirs = [p.clone().requires_grad_(True) for p in start()]
    ours_opt = aknp.ScheduleFreeAdamW(arrays, **kwargs)
    their_opt = schedulefree.AdamWScheduleFree(theirs, foreach=False, **kwargs)
    with pytest.raises(RuntimeError, match=r"optimizer\.train\(\)"):  # starts in eval mode
        ours_opt.step([np.ones_like(a) for a in arrays])
    assert all(np.array_equal(a, p.detach().numpy()) for a, p in zip(arrays, start(), strict=True))
    for step in range(STEPS):
        if step % 20 == 0:
            ours_opt.train()
            their_opt.train()
        grads = grads_at(step, [torch.from_numpy(a) for a in arrays])
        ours_opt.step([g.numpy() for g in grads])
        for p, g in zip(theirs, grads_at(step, [p.detach() for p in theirs]), strict=True):
            p.grad = g
        their_opt.step()
        if step % 20 == 19:
            ours_opt.eval()
            their_opt.eval()
            assert_same([torch.from_numpy(a) for a in arrays], [p.detach() for p in theirs], tol=1e-11)
    _moved([torch.from_numpy(a) for a in arrays])
    ours_opt.train()
    their_opt.train()
    assert_same([torch.from_numpy(a) for a in arrays], [p.detach() for p in theirs], tol=1e-11)
