"""Acceptance tests taken from the reference articles (/work/shared/references) and the paper
they cite for AMSGrad: what the articles show Adam doing, adamkit must do.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import adamkit.numpy
import adamkit.torch
from adamkit.rules.adam import ADAM
from harness import rel_diff

# --- Adam from scratch on f(x, y) = x^2 + y^2 (adam-from-scratch-and-comparison.txt) ---------

STEP_SIZE, BETA1, BETA2, EPS, ITERATIONS = 0.02, 0.8, 0.999, 1e-8, 60


def bowl_start() -> np.ndarray:
    """The start the from-scratch example draws: uniform in [-1, 1]^2 after seed(1)."""
    rng = np.random.RandomState(1)
    return -1.0 + rng.rand(2) * 2.0


def by_hand(x: np.ndarray, iterations: int) -> list[np.ndarray]:
    """The algorithm as the article lists it, coordinate by coordinate, in float64."""
    x = [float(v) for v in x]
    m, v = [0.0, 0.0], [0.0, 0.0]
    path = []
    for t in range(1, iterations + 1):
        g = [2.0 * x[0], 2.0 * x[1]]  # the derivative of x^2 + y^2
        for i in range(2):
            m[i] = BETA1 * m[i] + (1.0 - BETA1) * g[i]
            v[i] = BETA2 * v[i] + (1.0 - BETA2) * g[i] ** 2
            m_hat = m[i] / (1.0 - BETA1**t)
            v_hat = v[i] / (1.0 - BETA2**t)
            x[i] = x[i] - STEP_SIZE * m_hat / (math.sqrt(v_hat) + EPS)
        path.append(np.array(x))
    return path


def test_adam_from_scratch_on_the_bowl_numpy_front_end():
    x = bowl_start()
    opt = adamkit.numpy.Adam([x], lr=STEP_SIZE, betas=(BETA1, BETA2), eps=EPS)
    expected = by_hand(bowl_start(), ITERATIONS)
    for t in range(ITERATIONS):
        opt.step([2.0 * x])
        np.testing.assert_allclose(x, expected[t], rtol=0, atol=1e-12, err_msg=f"iteration {t + 1}")
    assert (x**2).sum() < 1e-4


def test_adam_from_scratch_on_the_bowl_rule():
    hp = ADAM.hyper(lr=STEP_SIZE, betas=(BETA1, BETA2), eps=EPS)
    x = bowl_start()
    state = ADAM.init(x, hp)
    expected = by_hand(bowl_start(), 5)
    first_moves = []
    for t in range(ITERATIONS):
        previous = x
        x, state = ADAM.update(x, 2.0 * x, state, hp)
        if t < 5:
            np.testing.assert_allclose(x, expected[t], rtol=0, atol=1e-14, err_msg=f"iteration {t + 1}")
            first_moves.append(np.abs(x - previous))
    # bias correction makes the first step the step size along each coordinate (up to eps / |g|)
    np.testing.assert_allclose(first_moves[0], STEP_SIZE, rtol=1e-6)
    assert state["step"] == ITERATIONS
    assert (x**2).sum() < 1e-4


# --- The 2-4-1 network with BCE loss (adam-notes-pytorch.txt) -------------------------------


class SimpleNN(torch.nn.Module):
    """2 inputs, 4 ReLU units, 1 sigmoid output: the note's binary classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = torch.nn.Linear(2, 4)
        self.layer2 = torch.nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.layer2(torch.relu(self.layer1(x))))


def train_simple_nn(optimizer_cls, epochs: int = 100, **engine) -> tuple[list[float], SimpleNN]:
    torch.manual_seed(0)
    model = SimpleNN()
    criterion = torch.nn.BCELoss()
    optimizer = optimizer_cls(model.parameters(), lr=0.001, betas=(0.9, 0.999), eps=1e-8, **engine)
    data = torch.Generator().manual_seed(1)
    losses = []
    for _ in range(epochs):
        inputs = torch.rand((100, 2), generator=data)  # the note's dummy data, fresh each epoch
        targets = torch.rand((100, 1), generator=data)
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, model


@pytest.mark.parametrize("fused", [None, False], ids=["default-engine", "reference-engine"])
def test_simple_nn_with_bce_matches_torch_adam(fused):
    ours, model_a = train_simple_nn(adamkit.torch.Adam, fused=fused)
    theirs, model_b = train_simple_nn(torch.optim.Adam)
    assert len(ours) == 100
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0)
    for (name, a), b in zip(model_a.named_parameters(), model_b.parameters(), strict=True):
        assert a.dtype == torch.float32
        assert rel_diff(a.detach(), b.detach()) <= 1e-5, name
    assert ours[0] != ours[-1]  # the weights moved; the loss followed them


# --- AMSGrad's counterexample (Reddi, Kale and Kumar, ICLR 2018, Section 5) ----------------
#
# f_t(x) = 1010 x when t mod 101 = 1, else -10 x, on x in [-1, 1]. Over each period of 101
# steps the gradients sum to +10, so the best point is x = -1. Adam's second moment
# forgets the rare large gradient within the period; its many small steps up outweigh the
# one step down, and it drifts to +1. AMSGrad keeps the largest second moment, so every
# step is scaled alike and it follows the sum of the gradients to -1.
#
# Setting: the paper's synthetic experiment, beta1 = 0.9, beta2 = 0.99 and step size
# alpha / sqrt(t) with alpha = 1, projected onto [-1, 1] after each step, from x = 0,
# for 500 periods (50,500 steps). (With constant step sizes the oscillation within a
# period stays as wide as the step and AMSGrad's drift is slow; the decay lets both settle.)

PERIOD, PERIODS = 101, 500


def counterexample(amsgrad: bool) -> list[float]:
    """x after every step of the last period."""
    x = np.zeros(1)
    opt = adamkit.numpy.Adam([x], lr=1.0, betas=(0.9, 0.99), amsgrad=amsgrad)
    last = []
    for t in range(1, PERIOD * PERIODS + 1):
        opt.param_groups[0]["lr"] = 1.0 / math.sqrt(t)
        opt.step([np.array([1010.0 if t % PERIOD == 1 else -10.0])])
        np.clip(x, -1.0, 1.0, out=x)  # the projection onto the feasible set
        if t > PERIOD * (PERIODS - 1):
            last.append(float(x[0]))
    return last


def test_amsgrad_counterexample():
    adam, amsgrad = counterexample(False), counterexample(True)
    assert adam[-1] > 0.9 and min(adam) > 0.9  # Adam sits at the worst point, +1
    assert amsgrad[-1] < -0.9 and max(amsgrad) < -0.9  # AMSGrad at the best, -1
