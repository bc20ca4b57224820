"""adamkit.schedules against torch.optim.lr_scheduler, step by step."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler

from adamkit import schedules
from adamkit.schedules import constant, cosine, exponential, linear, parse, step, warmup

BASE_LR = 0.1
STEPS = 60


def torch_lrs(make_scheduler, steps: int = STEPS) -> list[float]:
    """The learning rate torch's scheduler sets at steps 0..steps-1."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE_LR)
    scheduler = make_scheduler(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return lrs


def ours(schedule, steps: int = STEPS) -> list[float]:
    return [BASE_LR * schedule(t) for t in range(steps)]


@pytest.mark.parametrize(
    ("schedule", "peer", "steps"),
    [
        (step(7, 0.5), lambda o: lr_scheduler.StepLR(o, step_size=7, gamma=0.5), STEPS),
        (exponential(0.93), lambda o: lr_scheduler.ExponentialLR(o, gamma=0.93), STEPS),
        (cosine(STEPS), lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=STEPS), STEPS),
        # torch's cosine climbs back after T_max, ours stays at the minimum: compare up to T_max
        (cosine(40, 0.1), lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=40, eta_min=0.01), 41),
        (linear(0.25, 1.0, 20), lambda o: lr_scheduler.LinearLR(o, 0.25, 1.0, total_iters=20), STEPS),
        (linear(1.0, 0.1, 30), lambda o: lr_scheduler.LinearLR(o, 1.0, 0.1, total_iters=30), STEPS),
        (constant(), lambda o: lr_scheduler.ConstantLR(o, factor=1.0, total_iters=1), STEPS),
    ],
    ids=["step", "exponential", "cosine", "cosine-min", "linear-up", "linear-down", "constant"],
)
def test_matches_torch_scheduler(schedule, peer, steps):
    # torch computes cosine and exponential by recurrence, ours in closed form: ~1e-16 apart.
    np.testing.assert_allclose(ours(schedule, steps), torch_lrs(peer, steps), rtol=1e-12, atol=1e-14)


def test_warmup_then_cosine_equals_sequential_lr():
    warm, total = 10, STEPS
    schedule = warmup(cosine(total - warm), steps=warm, start_factor=0.1)

    def peer(opt):
        return lr_scheduler.SequentialLR(
            opt,
            [
                lr_scheduler.LinearLR(opt, start_factor=0.1, end_factor=1.0, total_iters=warm),
                lr_scheduler.CosineAnnealingLR(opt, T_max=total - warm),
            ],
            milestones=[warm],
        )

    np.testing.assert_allclose(ours(schedule), torch_lrs(peer), rtol=1e-12, atol=1e-14)


def test_warmup_ramp_ends_where_the_next_schedule_starts():
    schedule = warmup(step(5, 0.5), steps=4)
    assert [schedule(t) for t in range(10)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5]
    # composed with a schedule that does not start at 1, the ramp ends at its first value
    assert warmup(linear(0.5, 1.0, 10), steps=2)(1) == pytest.approx(0.25)


def test_cosine_stays_at_its_minimum_after_its_length():
    schedule = cosine(10, 0.2)
    assert schedule(10) == pytest.approx(0.2)
    assert schedule(25) == pytest.approx(0.2)
    assert schedule(5) == pytest.approx(0.6)


def test_torch_adapter_is_lambda_lr_with_the_same_rates():
    schedule = warmup(cosine(30), steps=5)
    lrs = torch_lrs(lambda opt: schedules.to_torch(schedule, opt), 40)
    assert lrs == [BASE_LR * schedule(t) for t in range(40)]


def test_group_scheduler_drives_a_numpy_optimizer_like_lambda_lr():
    from adamkit.numpy import Adam

    schedule = step(3, 0.5)
    w = np.array([1.0, -2.0])
    opt = Adam([{"params": [w], "lr": 0.2}])
    scheduler = schedules.for_groups(schedule, opt)
    seen = []
    for _ in range(8):
        seen.append(opt.param_groups[0]["lr"])
        opt.step([2 * w])
        scheduler.step()
    assert seen == [0.2 * 0.5 ** (t // 3) for t in range(8)]
    assert scheduler.get_last_lr() == [0.2 * 0.5 ** (8 // 3)]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("constant", constant()),
        ("cosine", cosine(200)),
        ("step:10:0.5", step(10, 0.5)),
        ("step:2ep:0.5", step(40, 0.5)),
        ("exponential:0.99", exponential(0.99)),
        ("warmup:30", warmup(constant(), 30)),
        ("warmup-cosine:50", warmup(cosine(150), 50)),
        ("Warmup-Cosine:1ep", warmup(cosine(180), 20)),
    ],
)
def test_parse_builds_the_named_schedule(spec, expected):
    assert parse(spec, total_steps=200, steps_per_epoch=20) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("cosin", "Unknown schedule 'cosin'"),
        ("step:10", "expected step:EVERY:GAMMA"),
        ("step:x:0.5", "'x' is not a whole number"),
        ("step:0:0.5", "counts must be >= 1"),
        ("exponential:fast", "'fast' is not a number"),
        ("exponential:-1", "Invalid decay factor (gamma): -1.0"),
        ("warmup-cosine:-5", "counts must be >= 1"),
    ],
)
def test_parse_errors_are_one_line_and_name_the_problem(spec, message):
    with pytest.raises(ValueError) as error:
        parse(spec)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: step(0), "Invalid step period (every): 0"),
        (lambda: cosine(10, min_factor=math.nan), "Invalid cosine minimum (min_factor): nan"),
        (lambda: warmup(steps=2.5), "Invalid warmup length (steps): 2.5"),
        (lambda: linear(-1.0, 1.0, 5), "Invalid linear start: -1.0"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(build, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()
