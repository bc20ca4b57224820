"""``differentiable=True``: gradients through optimizer steps equal torch.optim's and finite differences.

The meta-learning pattern: a non-leaf copy of the initial parameters is trained for a few
steps whose gradients are built with ``create_graph=True`` (on a clone, so that the step's
in-place write does not touch what the loss saved), then a final objective is differentiated
with respect to the initial parameters and the hyperparameters given as tensors. Oracles:
torch.optim's differentiable mode for the algorithms it has, and numerical derivatives
(``torch.autograd.gradcheck``, float64) for every algorithm, SWATS included.
"""

from __future__ import annotations

import pytest
import torch

import adamkit.torch as ak
from adamkit.torch.flags import FlagError

#: Per algorithm: float hyperparameters that make every part of its update matter.
HYPER = {
    "Adam": dict(lr=0.05, weight_decay=0.1, amsgrad=True),
    "AdamW": dict(lr=0.05, weight_decay=0.1),
    "Adamax": dict(lr=0.05, weight_decay=0.1),
    "NAdam": dict(lr=0.05, momentum_decay=0.004),
    "RAdam": dict(lr=0.05, betas=(0.9, 0.6)),  # a short SMA: the rectified step from step 3
    "SGD": dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1),
    "RMSprop": dict(lr=0.01, momentum=0.5, centered=True),
    "Adagrad": dict(lr=0.1, lr_decay=0.01),
    "Adadelta": dict(lr=0.5),
    "SWATS": dict(lr=0.05),
    "Lion": dict(lr=0.05, weight_decay=0.1),
    "AdEMAMix": dict(lr=0.05, t_alpha=3, t_beta3=3),
    "AdaBelief": dict(lr=0.05, eps=1e-8, weight_decay=0.1),
    "LAMB": dict(lr=0.05, weight_decay=0.1),
}
STEPS = 4


@pytest.fixture(autouse=True)
def _float64(float64_default):
    """Derivatives are compared in float64 (torch.optim keeps float64 scalars there too)."""


def loss(p: torch.Tensor) -> torch.Tensor:
    return (p**4).sum() / 4 + (p * torch.linspace(-1, 1, p.numel())).sum()


def unroll(optimizer, p0: torch.Tensor, tensors: dict) -> torch.Tensor:
    """``STEPS`` recorded steps from ``p0``; ``tensors`` replace hyperparameters (``betas``: a pair)."""
    p = p0.clone()
    opt = optimizer([p], **tensors)
    for _ in range(STEPS):
        q = p.clone()
        (p.grad,) = torch.autograd.grad(loss(q), q, create_graph=True)
        opt.step()
    return p


def meta_gradients(cls, hyper: dict, wrt: tuple[str, ...]) -> list[torch.Tensor]:
    """Gradients of ``sum(p_T**2)`` with respect to ``p0`` and the hyperparameters named in ``wrt``
    (given as tensors that require grad; the others are ``hyper``'s floats)."""
    p0 = torch.linspace(-1.5, 1.2, 6).requires_grad_()
    floats = {"betas": (0.9, 0.999), **hyper} if "betas" in wrt else hyper
    tensors, leaves = {}, [p0]
    for key in wrt:
        value = floats[key]
        tensors[key] = (
            tuple(torch.tensor(v, requires_grad=True) for v in value)
            if isinstance(value, tuple)
            else torch.tensor(value, requires_grad=True)
        )
        leaves.extend(tensors[key] if isinstance(value, tuple) else [tensors[key]])
    p = unroll(lambda params, **given: cls(params, **{**floats, **given}, differentiable=True), p0, tensors)
    return list(torch.autograd.grad((p**2).sum(), leaves))


#: Configurations torch.optim's differentiable mode runs through four steps (torch 2.13), and
#: what it differentiates. It fails (an in-place error, or a tensor lr refused by its kernels)
#: with AMSGrad, Adamax, centered RMSprop, SGD with dampening, and a tensor lr for NAdam,
#: Adamax, RMSprop, Adagrad and Adadelta; with SGD momentum it runs but its first momentum
#: buffer is a detached copy of the gradient, so its gradients differ from finite differences.
#: adamkit's gradients there are checked against finite differences only (below).
TORCH_CASES = [
    ("Adam", dict(lr=0.05, weight_decay=0.1), ("lr", "betas", "weight_decay")),
    ("AdamW", dict(lr=0.05, weight_decay=0.1), ("lr", "betas", "weight_decay")),
    ("Adam", dict(lr=0.05, maximize=True), ("lr",)),
    ("NAdam", dict(lr=0.05, momentum_decay=0.004), ()),
    ("RAdam", dict(lr=0.05, betas=(0.9, 0.6)), ("lr",)),
    ("SGD", dict(lr=0.05, weight_decay=0.1), ("lr",)),
    ("RMSprop", dict(lr=0.01, momentum=0.5), ()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01), ()),
    ("Adadelta", dict(lr=0.5), ()),
]


@pytest.mark.parametrize("name, hyper, wrt", TORCH_CASES, ids=[f"{n}-{len(w)}" for n, _, w in TORCH_CASES])
def test_gradients_through_steps_equal_torch_optim(name, hyper, wrt):
    """With respect to the initial parameters and the hyperparameters torch takes as tensors."""
    ours = meta_gradients(getattr(ak, name), hyper, wrt)
    theirs = meta_gradients(getattr(torch.optim, name), hyper, wrt)
    assert all(g.abs().max() > 0 for g in ours)  # every gradient is there, none trivially zero
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_nadam_under_a_float32_default_steps_as_torch_optims():
    """torch.optim's differentiable NAdam takes its step sizes from the ``mu_product`` tensor, float32
    under the default dtype even for float64 parameters; ours did in float64 (5.6e-9 apart in 200
    steps), and now computes from that tensor too. Its gradients follow (1e-11 here)."""
    torch.set_default_dtype(torch.float32)  # the fixture restores the caller's default after the test
    hyper = dict(lr=0.01, weight_decay=0.1)
    runs = []
    for cls in (ak.NAdam, torch.optim.NAdam):
        p0 = torch.linspace(-1.5, 1.2, 6, dtype=torch.float64).requires_grad_()
        p = p0.clone()
        opt = cls([p], **hyper, differentiable=True)
        for _ in range(200):
            q = p.clone()
            (p.grad,) = torch.autograd.grad(((q**4).sum() / 4 - q.sum()), q, create_graph=True)
            opt.step()
        (meta,) = torch.autograd.grad((p**2).sum(), p0)
        runs.append((p.detach(), opt.state[p]["mu_product"], meta))
    (ours, ours_mu, ours_meta), (theirs, theirs_mu, theirs_meta) = runs
    assert ours_mu.dtype == theirs_mu.dtype == torch.float32 and torch.equal(ours_mu, theirs_mu)
    torch.testing.assert_close(ours, theirs, rtol=1e-14, atol=0)
    torch.testing.assert_close(ours_meta, theirs_meta, rtol=1e-11, atol=0)


BETAS = {"Adam", "AdamW", "Adamax", "NAdam", "RAdam", "SWATS"}


@pytest.mark.parametrize("name", list(HYPER))
def test_gradients_through_steps_equal_finite_differences(name):
    """Every algorithm against numerical derivatives: initial parameters, lr and (where it has them) betas."""
    cls = getattr(ak, name)
    has_betas = name in BETAS

    def optimizer(params, **given):
        return cls(params, **{**HYPER[name], **given}, differentiable=True)

    def final_params(p0, lr, *betas):
        return unroll(optimizer, p0, {"lr": lr, **({"betas": betas} if has_betas else {})})

    p0 = torch.linspace(-1.5, 1.2, 6).requires_grad_()
    lr = torch.tensor(HYPER[name]["lr"], requires_grad=True)
    betas = HYPER[name].get("betas", (0.9, 0.99)) if has_betas else ()
    betas = [torch.tensor(b, requires_grad=True) for b in betas]
    assert torch.autograd.gradcheck(final_params, (p0, lr, *betas), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_differentiable_runs_the_reference_engine():
    p = torch.zeros(3, requires_grad=True)
    assert ak.Adam([p.clone()], differentiable=True).engine == "reference"
    assert ak.Adam([p]).engine == "fused"


def test_steps_without_differentiable_are_not_recorded():
    """As torch.optim: a step outside differentiable mode is invisible to autograd, even under enable_grad."""
    p = torch.ones(3, requires_grad=True)
    p.grad = torch.ones(3, requires_grad=True) * 2
    for fused in (None, False):
        ak.Adam([p], lr=0.1, fused=fused).step()
    assert p.grad_fn is None and p.is_leaf


def test_a_leaf_parameter_is_refused_as_by_torch():
    """A leaf that requires grad cannot be updated in a recorded step: torch's own in-place error."""
    for cls in (torch.optim.Adam, ak.Adam):
        p = torch.ones(3, requires_grad=True)
        p.grad = torch.ones(3)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            cls([p], differentiable=True).step()


REFUSED = [
    pytest.param(dict(fused=True, foreach=True), FlagError, id="fused+foreach"),
    pytest.param(dict(fused=True, differentiable=True), FlagError, id="fused+differentiable"),
    pytest.param(dict(foreach=True, differentiable=True), ValueError, id="foreach+differentiable"),
    pytest.param(dict(foreach=True, lr=torch.tensor(0.01)), ValueError, id="foreach+tensor-lr"),
    pytest.param(
        dict(foreach=True, betas=(torch.tensor(0.9), torch.tensor(0.99))),
        ValueError,
        id="foreach+tensor-betas",
    ),
]


@pytest.mark.parametrize("kwargs, error", REFUSED)
def test_combinations_torch_refuses_are_refused(kwargs, error):
    """torch.optim refuses these; adamkit too, with an error that torch.optim's callers catch."""
    torch_error = RuntimeError if error is FlagError else ValueError
    with pytest.raises((torch_error, AssertionError)):  # foreach+differentiable: at torch's first step
        param = torch.zeros(2, requires_grad=True)
        param = param.clone() if kwargs.get("differentiable") else param  # non-leaf, as differentiable needs
        param.grad = torch.ones(2)
        torch.optim.Adam([param], **kwargs).step()
    with pytest.raises(error) as raised:
        ak.Adam([torch.zeros(2, requires_grad=True)], **kwargs)
    assert isinstance(raised.value, torch_error) and isinstance(raised.value, ValueError)
    assert any(f"{key}" in str(raised.value) for key in kwargs)


def test_low_bit_state_and_capturable_are_refused():
    with pytest.raises(ValueError, match="state_bits.*differentiable=True"):
        ak.AdamW([torch.zeros(2, requires_grad=True)], state_bits=8, differentiable=True)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="capturable=True"):
            ak.Adam([torch.zeros(2, requires_grad=True)], capturable=True)
