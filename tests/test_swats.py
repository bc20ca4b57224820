"""SWATS against the outside world: Adam until the switch, SGD with momentum after it.

Every parameter tensor of a SWATS run has a shadow copy fed the same gradients: a
``torch.optim.Adam`` until the tensor switches, then a fresh ``torch.optim.SGD(lr=(1 -
beta1) * Lambda, momentum=beta1)`` started from the tensor's value at the switch. The
two must agree at every step (float64, <= 1e-12). The switch itself is recomputed from
the trajectory with the paper's formulas, independently of the implementation.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import adamkit.numpy
from adamkit.rules.adam import ADAM
from adamkit.rules.sgd import SGD as SGD_RULE
from adamkit.rules.swats import SWATS as SWATS_RULE
from adamkit.torch import SWATS
from adamkit.torch.swats import Switch
from harness import rel_diff

pytestmark = pytest.mark.usefixtures("float64_default")


def logistic_problem():
    """Logistic regression on 512 synthetic points in 5-D: a convex, noisy (minibatch) problem."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(512, 5, generator=gen)
    w = torch.randn(5, generator=gen)
    y = (torch.rand(512, generator=gen) < torch.sigmoid(x @ w + 0.5)).double()[:, None]
    torch.manual_seed(0)
    return torch.nn.Linear(5, 1), x, y, F.binary_cross_entropy_with_logits


def mlp_problem():
    """A 2-16-1 tanh MLP regressing sin(1.5 x0) cos(x1) on [-2, 2]^2."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(512, 2, generator=gen) * 4 - 2
    y = torch.sin(1.5 * x[:, :1]) * torch.cos(x[:, 1:])
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    return model, x, y, F.mse_loss


class Shadow:
    """A copy of one parameter run by torch.optim: Adam first, SGD from the switch on."""

    def __init__(self, param: torch.Tensor, kwargs: dict) -> None:
        self.kwargs = kwargs
        self.copy = param.detach().clone().requires_grad_(True)
        adam_kwargs = {k: kwargs[k] for k in ("lr", "betas", "eps", "weight_decay") if k in kwargs}
        self.opt = torch.optim.Adam([self.copy], **adam_kwargs)
        self.phase = "adam"

    def switch(self, param: torch.Tensor, sgd_lr: float) -> None:
        beta1 = self.kwargs.get("betas", (0.9, 0.999))[0]
        with torch.no_grad():
            self.copy.copy_(param)  # the same point (already equal to <= 1e-12)
        self.opt = torch.optim.SGD(
            [self.copy],
            lr=(1 - beta1) * sgd_lr,
            momentum=beta1,
            weight_decay=self.kwargs.get("weight_decay", 0.0),
        )
        self.phase = "sgd"


def train_with_shadows(problem, kwargs: dict, steps: int, batch: int = 32):
    """Run SWATS and the shadows; returns the optimizer, per-phase worst differences and step
    counts, each tensor's trajectory (steps taken and gradients) and the losses before/after."""
    model, x, y, loss_fn = problem
    params = list(model.parameters())
    opt = SWATS(params, **kwargs)
    shadows = [Shadow(p, kwargs) for p in params]
    worst = {"adam": 0.0, "sgd": 0.0}
    counted = {"adam": 0, "sgd": 0}
    history = [[] for _ in params]  # (p_k, g_k) per step while in the Adam phase
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        first_loss = loss_fn(model(x), y).item()
    for k in range(1, steps + 1):
        idx = torch.randint(0, len(x), (batch,), generator=gen)
        opt.zero_grad()
        loss_fn(model(x[idx]), y[idx]).backward()
        before = [p.detach().clone() for p in params]
        for p, s in zip(params, shadows, strict=True):
            s.copy.grad = p.grad.clone()
            s.opt.step()
        opt.step()
        for i, (p, s, report) in enumerate(zip(params, shadows, opt.switches(), strict=True)):
            worst[s.phase] = max(worst[s.phase], rel_diff(p.detach(), s.copy.detach()))
            counted[s.phase] += 1
            if s.phase == "adam":
                g = p.grad + kwargs.get("weight_decay", 0.0) * before[i]
                history[i].append((p.detach() - before[i], g))
            if report.switched and report.step == k:  # the switch step was still an Adam step
                s.switch(p.detach(), report.sgd_lr)
    with torch.no_grad():
        last_loss = loss_fn(model(x), y).item()
    return opt, worst, counted, history, (first_loss, last_loss)


def first_switch(history, beta2: float, tol: float) -> tuple[int, float] | None:
    """The paper's criterion, recomputed from the steps taken: (k, Lambda) of the first switch."""
    lam = 0.0
    for k, (p, g) in enumerate(history, start=1):
        pg = float((p * g).sum())
        if pg == 0:
            continue
        gamma = float((p * p).sum()) / -pg
        lam = beta2 * lam + (1 - beta2) * gamma
        unbiased = lam / (1 - beta2**k)
        if k > 1 and unbiased > 0 and abs(unbiased - gamma) < tol:
            return k, unbiased
    return None


CASES = {
    # (problem, kwargs, steps): every tensor switches, most after many Adam steps
    "logistic": (logistic_problem, dict(lr=1e-2, switch_tol=1e-3), 600),
    "mlp": (mlp_problem, dict(lr=3e-3, switch_tol=3e-4), 1000),
}


@pytest.mark.parametrize("name", CASES)
def test_adam_until_the_switch_then_sgd_with_momentum(name):
    make, kwargs, steps = CASES[name]
    opt, worst, counted, history, (first, last) = train_with_shadows(make(), kwargs, steps)
    switches = opt.switches()
    print(name, [(s.step, s.sgd_lr) for s in switches])
    assert all(s.switched for s in switches), switches
    assert max(s.step for s in switches) > 20  # a real Adam phase, not only the first steps
    assert counted["adam"] >= 50 and counted["sgd"] >= 300, counted
    assert worst["adam"] <= 1e-12, worst
    assert worst["sgd"] <= 1e-12, worst
    assert last < 0.9 * first  # and it trains
    # the switch step and rate are the paper's, recomputed from the trajectory
    beta2 = kwargs.get("betas", (0.9, 0.999))[1]
    for s, steps_taken in zip(switches, history, strict=True):
        k, rate = first_switch(steps_taken, beta2, kwargs["switch_tol"])
        assert s.step == k
        assert abs(s.sgd_lr - rate) <= 1e-12 * rate


def test_rule_phases_are_the_adam_and_sgd_rules():
    """On NumPy arrays: SWATS's update is ADAM's update, then SGD's, bit for bit."""
    rng = np.random.default_rng(0)
    scale = np.linspace(0.5, 3.0, 10)
    hp = SWATS_RULE.hyper(lr=1e-3, switch_tol=1e-5, weight_decay=0.01)
    adam_hp = ADAM.hyper(lr=1e-3, weight_decay=0.01)
    p = np.linspace(-1, 1, 10)
    state = SWATS_RULE.init(p, hp)
    shadow, shadow_state, shadow_rule, shadow_hp = p.copy(), ADAM.init(p, adam_hp), ADAM, adam_hp
    steps = {"adam": 0, "sgd": 0}
    for _ in range(400):
        g = scale * p + rng.standard_normal(10)
        p, state = SWATS_RULE.update(p, g, state, hp)
        shadow, shadow_state = shadow_rule.update(shadow, g, shadow_state, shadow_hp)
        steps[shadow_rule.name] += 1
        np.testing.assert_array_equal(p, shadow)
        if shadow_rule is ADAM and state["switched"]:  # SGD from here, its buffer fresh
            shadow_rule, shadow_state = SGD_RULE, SGD_RULE.init(p, {})
            shadow_hp = SGD_RULE.hyper(lr=(1 - 0.9) * state["sgd_lr"], momentum=0.9, weight_decay=0.01)
    assert state["switch_step"] > 1 and steps["adam"] > 10 and steps["sgd"] > 100, steps
    np.testing.assert_array_equal(state["momentum_buffer"], shadow_state["momentum_buffer"])


def test_zero_tolerance_never_switches_and_is_adam():
    model, x, y, loss_fn = logistic_problem()
    opt, worst, counted, _, _ = train_with_shadows((model, x, y, loss_fn), dict(lr=1e-2, switch_tol=0.0), 300)
    assert not any(s.switched for s in opt.switches())
    assert counted["sgd"] == 0 and worst["adam"] <= 1e-12


def test_reports_before_any_step():
    w, b = torch.zeros(3, requires_grad=True), torch.zeros(1, requires_grad=True)
    assert SWATS([{"params": [w]}, {"params": [b], "lr": 0.1}]).switches() == [Switch(False), Switch(False)]


def quadratic_steps(opt, w, steps, start=0):
    scale = torch.tensor([1.0, 2.0, 3.0])
    for k in range(start, start + steps):
        gen = torch.Generator().manual_seed(k)
        opt.zero_grad()
        (0.5 * scale * w**2).sum().backward()
        w.grad += 0.3 * torch.randn(3, generator=gen, dtype=w.dtype)
        opt.step()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_state_dict_after_the_switch_resumes_exactly(dtype):
    """Save after the switch (weights_only load), resume: same as never stopping.
    The scalar state keeps its dtype: a bfloat16 learning rate or step would be rounded."""

    def fresh():
        w = torch.tensor([3.0, -1.0, 0.5], dtype=dtype, requires_grad=True)
        return w, SWATS([w], lr=1e-2, switch_tol=1e-3)

    w1, o1 = fresh()
    quadratic_steps(o1, w1, 300)
    assert o1.switches()[0].switched
    buf = io.BytesIO()
    torch.save(o1.state_dict(), buf)
    buf.seek(0)
    saved = torch.load(buf, weights_only=True)
    w2, o2 = fresh()
    with torch.no_grad():
        w2.copy_(w1)
    o2.load_state_dict(saved)
    for key in SWATS_RULE.scalar_state:
        assert o2.state[w2][key].dtype == o1.state[w1][key].dtype == torch.float64, key
        assert o2.state[w2][key].item() == o1.state[w1][key].item(), key
    assert o2.state[w2]["momentum_buffer"].dtype == dtype
    quadratic_steps(o1, w1, 50, start=300)
    quadratic_steps(o2, w2, 50, start=300)
    assert torch.equal(w1, w2)
    assert o1.switches() == o2.switches()


def test_scheduler_after_the_switch_scales_the_sgd_rate():
    w = torch.tensor([3.0, -1.0, 0.5], requires_grad=True)
    opt = SWATS([w], lr=1e-2, switch_tol=1e-3)
    quadratic_steps(opt, w, 100)
    report = opt.switches()[0]
    assert report.switched
    shadow = w.detach().clone().requires_grad_(True)
    sgd = torch.optim.SGD([shadow], lr=(1 - 0.9) * report.sgd_lr, momentum=0.9)
    sgd.state[shadow]["momentum_buffer"] = opt.state[w]["momentum_buffer"].clone()
    for group in (*opt.param_groups, *sgd.param_groups):
        group["lr"] *= 0.5  # as a scheduler would
    for k in range(100, 120):
        noise = 0.3 * torch.randn(3, generator=torch.Generator().manual_seed(k))
        for param, o in ((w, opt), (shadow, sgd)):
            o.zero_grad()
            (0.5 * torch.tensor([1.0, 2.0, 3.0]) * param**2).sum().backward()
            param.grad += noise
            o.step()
    assert rel_diff(w.detach(), shadow.detach()) <= 1e-12


def test_numpy_front_end_reports_the_same_switch():
    w = np.array([3.0, -1.0, 0.5])
    opt = adamkit.numpy.SWATS([w], lr=1e-2, switch_tol=1e-3)
    t = torch.tensor(w, requires_grad=True)
    topt = SWATS([t], lr=1e-2, switch_tol=1e-3)
    scale = np.array([1.0, 2.0, 3.0])
    for k in range(200):
        noise = 0.3 * torch.randn(3, generator=torch.Generator().manual_seed(k)).numpy()
        opt.step([scale * w + noise])
        t.grad = torch.from_numpy(scale * t.detach().numpy() + noise)
        topt.step()
    report = topt.switches()[0]
    assert report.switched
    assert opt.state[0]["switch_step"] == report.step
    assert opt.state[0]["sgd_lr"] == report.sgd_lr
    assert rel_diff(w, t.detach()) <= 1e-12


def test_sparse_gradients_are_rejected_by_name():
    emb = torch.nn.Embedding(5, 2, sparse=True)
    opt = SWATS(emb.parameters())
    emb(torch.tensor([1, 3])).sum().backward()
    with pytest.raises(ValueError, match="SWATS does not support sparse gradients"):
        opt.step()


@pytest.mark.parametrize("function", ["parabola", "rosenbrock"])
def test_convergence_rows_reach_the_sgd_phase(function):
    """The table's convergence rows for SWATS switch on the way, so they test SGD's phase too."""
    from cases.swats import CONVERGENCE
    from test_optimizers_generic import parabola, rosenbrock

    row = CONVERGENCE[0]
    f, start, kwargs = {
        "parabola": (parabola, [-1.5, 2.5], row.parabola),
        "rosenbrock": (rosenbrock, [-1.2, 1.0], row.rosenbrock),
    }[function]
    x = torch.tensor(start, requires_grad=True)
    opt = SWATS([x], **kwargs)
    for _ in range(10_000):
        opt.zero_grad()
        f(x).backward()
        opt.step()
    report = opt.switches()[0]
    assert report.switched and report.step < 5_000, report
