"""Compiled training steps: ``torch.compile`` around ``opt.step()`` trains exactly as eager mode.

The step runs outside the graph on purpose (:mod:`adamkit.torch.compile`), so a compiled run
must equal the eager run bit for bit (parameters, every state tensor, step counters, the
scheduler's lr), for every optimizer, both engines and 32- and 8-bit state, and follow
torch.optim's trajectory. Each test checks that Dynamo really compiled the model around the
step (a backend that counts the operations it was handed), so a silent fallback to eager
mode cannot pass for a compiled run.
"""

from __future__ import annotations

import pytest
import torch
import torch._dynamo
import torch._dynamo.testing
import torch.nn.functional as F

import adamkit.torch as ak

#: Per optimizer: arguments that give it state worth comparing (momentum for SGD and RMSprop).
OPTIMIZERS = {
    "Adam": dict(lr=1e-2, weight_decay=0.1),
    "AdamW": dict(lr=1e-2, amsgrad=True),
    "Adamax": dict(lr=1e-2),
    "NAdam": dict(lr=1e-2),
    "RAdam": dict(lr=1e-2),
    "SWATS": dict(lr=1e-2),
    "SGD": dict(lr=1e-2, momentum=0.9, nesterov=True),
    "RMSprop": dict(lr=1e-3, momentum=0.5),
    "Adagrad": dict(lr=1e-2),
    "Adadelta": dict(lr=1.0),
}
STEPS = 4


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Tiny models: one thread is fastest, and the machine's cores are shared."""


def make_model() -> torch.nn.Module:
    """A 64x64 layer (4096 values: 8-bit state at state_bits=8) and small ones (kept in float32)."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Tanh(), torch.nn.Linear(64, 3))


def batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(1)
    return [(torch.randn(16, 64, generator=gen), torch.randn(16, 3, generator=gen)) for _ in range(STEPS)]


def train(make_opt, backend=None, compile_step_only: bool = False):
    """``STEPS`` steps of a small regression; ``backend``: compile the training step with it.

    Returns the model, the optimizer, the lr after each step and the Dynamo counter.
    """
    torch._dynamo.reset()  # a fresh cache: no earlier test's graphs or recompile budget
    model = make_model()
    opt = make_opt(model.parameters())
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

    def train_step(x, y):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        scheduler.step()
        return loss

    counter = None
    if backend is not None:
        counter = torch._dynamo.testing.CompileCounterWithBackend(backend)
        if compile_step_only:
            step = torch.compile(opt.step, backend=counter)

            def train_step(x, y):  # noqa: F811 (the same step with only opt.step compiled)
                opt.zero_grad()
                F.mse_loss(model(x), y).backward()
                step()
                scheduler.step()

        else:
            train_step = torch.compile(train_step, backend=counter)
    lrs = []
    for x, y in batches():
        train_step(x, y)
        lrs.append(opt.param_groups[0]["lr"])
    return model, opt, lrs, counter


def assert_same_run(compiled, eager) -> None:
    """Bit-for-bit equal parameters, state (every tensor and number) and lr history."""
    (model_c, opt_c, lrs_c, _), (model_e, opt_e, lrs_e, _) = compiled, eager
    assert lrs_c == lrs_e
    for p_c, p_e in zip(model_c.parameters(), model_e.parameters(), strict=True):
        assert torch.equal(p_c, p_e)
        state_c, state_e = opt_c.state[p_c], opt_e.state[p_e]
        assert state_c.keys() == state_e.keys()
        for key, value in state_e.items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(state_c[key], value), key
            else:
                assert state_c[key] == value, key
        assert float(state_c.get("step", STEPS)) == STEPS  # SGD keeps no step, as torch.optim


def optimizer(name: str, fused: bool | None, bits: int):
    return lambda params: getattr(ak, name)(params, **OPTIMIZERS[name], fused=fused, state_bits=bits)


@pytest.mark.parametrize("bits", [32, 8])
@pytest.mark.parametrize("fused", [None, False], ids=["fused", "reference"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_compiled_training_step_equals_eager(name, fused, bits):
    make_opt = optimizer(name, fused, bits)
    compiled = train(make_opt, backend="eager")
    assert compiled[2][-1] == pytest.approx(OPTIMIZERS[name]["lr"] / 4)  # the scheduler ran, compiled
    assert compiled[3].op_count > 0  # Dynamo compiled the model's forward and backward around the step
    # Adadelta has no fused kernels, SWATS no fused low-bit ones: they run the reference engine
    fused_runs = fused is None and name != "Adadelta" and (name, bits) != ("SWATS", 8)
    assert compiled[1].engine == ("fused" if fused_runs else "reference")
    if bits == 8:  # the 64x64 weight's moments are 8-bit codes
        assert any(key.endswith("_codes") for key in compiled[1].state[compiled[0][0].weight])
    assert_same_run(compiled, train(make_opt))
    if bits == 32 and name != "SWATS":  # and torch.optim's eager trajectory (torch has no SWATS)
        theirs = train(lambda params: getattr(torch.optim, name)(params, **OPTIMIZERS[name]))
        assert_follows_torch(compiled, theirs)


def assert_follows_torch(ours, theirs) -> None:
    """The same trajectory as torch.optim up to float32 rounding, and the same step counters."""
    for p_ours, p_theirs in zip(ours[0].parameters(), theirs[0].parameters(), strict=True):
        torch.testing.assert_close(p_ours, p_theirs, rtol=1e-5, atol=1e-6)
        state_ours, state_theirs = ours[1].state[p_ours], theirs[1].state[p_theirs]
        assert float(state_ours.get("step", -1)) == float(state_theirs.get("step", -1))
    assert ours[2] == theirs[2]


@pytest.mark.parametrize("bits", [32, 8])
@pytest.mark.parametrize("fused", [None, False], ids=["fused", "reference"])
def test_compiled_opt_step_equals_eager(fused, bits):
    """``torch.compile(opt.step)``: the hooks around the step are traced, the step runs as eager."""
    make_opt = optimizer("AdamW", fused, bits)
    assert_same_run(train(make_opt, backend="eager", compile_step_only=True), train(make_opt))


@pytest.mark.parametrize("fused", [None, False], ids=["fused", "reference"])
def test_inductor_training_step_equals_eager_on_its_gradients(fused):
    """The default backend (inductor: C++ code for the model): the fused engine crashed the process
    there, and the reference engine's step counters stuck at 2 (a weight and a bias: Dynamo's
    recompiles for their two ranks made the step a symbolic float).

    Inductor's model computes gradients with its own rounding, so the oracle is the eager
    optimizer fed the very gradients the compiled run produced (recorded by a step pre-hook):
    the two must agree bit for bit, step counters included.
    """
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = torch.nn.Linear(64, 80)  # one small graph (the C++ compile is the cost), two ranks
    start = [p.detach().clone() for p in model.parameters()]
    opt = ak.Adam(model.parameters(), lr=1e-2, fused=fused)
    grads = []
    opt.register_step_pre_hook(lambda *_: grads.append([p.grad.clone() for p in model.parameters()]))

    @torch.compile(backend="inductor")
    def train_step(x):
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()

    for x, _ in batches():
        train_step(x)

    params = [torch.nn.Parameter(p) for p in start]
    eager = ak.Adam(params, lr=1e-2, fused=fused)
    for step_grads in grads:
        for p, grad in zip(params, step_grads, strict=True):
            p.grad = grad
        eager.step()
    assert len(grads) == STEPS
    for ours, theirs in zip(model.parameters(), params, strict=True):
        assert torch.equal(ours, theirs)
        for key, value in eager.state[theirs].items():
            assert torch.equal(opt.state[ours][key], value), key
        assert opt.state[ours]["step"] == STEPS


def test_fullgraph_refuses_the_step():
    """``fullgraph=True`` cannot hold the step's graph break: Dynamo says so, nothing is updated."""
    torch._dynamo.reset()
    model = make_model()
    opt = ak.Adam(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]

    @torch.compile(backend="eager", fullgraph=True)
    def step():
        opt.step()

    model(torch.ones(2, 64)).sum().backward()
    with pytest.raises(torch._dynamo.exc.Unsupported):
        step()
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before, strict=True))
    assert not opt.state
