"""The lab's test functions: hand-written gradients against torch.autograd, minima, the registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from adamkit.lab import functions
from adamkit.lab.functions import FUNCTIONS, get

NAMES = list(FUNCTIONS)


def sample_points(f: functions.TestFunction, n: int = 8, seed: int = 0) -> list[np.ndarray]:
    """The start, the minimum (if any) and random points of the box."""
    rng = np.random.default_rng(seed)
    low, high = np.array(f.box).T
    points = [np.array(f.start, dtype=np.float64)]
    if f.minimum is not None:
        points.append(np.array(f.minimum, dtype=np.float64))
    points += [low + rng.random(f.dim) * (high - low) for _ in range(n)]
    return points


def autograd(f: functions.TestFunction, point: np.ndarray, t: int | None) -> np.ndarray:
    p = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    f.value(p, t).backward()
    return p.grad.numpy()


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_autograd(name: str) -> None:
    f = get(name)
    steps = [1, 2, 100, 101, 102, 203, None] if f.online else [None]
    for point in sample_points(f):
        for t in steps:
            expected = autograd(f, point, t)
            got = f.grad(point, t)
            assert got.shape == point.shape
            scale = max(1.0, float(np.abs(expected).max()))
            assert np.abs(got - expected).max() <= 1e-12 * scale, (name, point, t)


@pytest.mark.parametrize("name", NAMES)
def test_numpy_and_torch_values_agree(name: str) -> None:
    f = get(name)
    for point in sample_points(f):
        t = 1 if f.online else None
        assert float(f.value(point, t)) == pytest.approx(
            float(f.value(torch.from_numpy(point), t)), rel=1e-14
        )


@pytest.mark.parametrize("name", [n for n in NAMES if not get(n).online])
def test_grid_evaluation_has_the_grid_shape(name: str) -> None:
    f = get(name)
    (x0, x1), (y0, y1) = f.box
    X, Y = np.meshgrid(np.linspace(x0, x1, 7), np.linspace(y0, y1, 5))
    Z = f.value(np.stack([X, Y]))
    assert Z.shape == (5, 7)
    assert Z[2, 3] == pytest.approx(float(f.value(np.array([X[2, 3], Y[2, 3]]))), rel=1e-14)


@pytest.mark.parametrize("name", [n for n in NAMES if get(n).minimum is not None and not get(n).online])
def test_the_minimum_is_where_the_table_says(name: str) -> None:
    f = get(name)
    best = np.array(f.minimum)
    assert float(f.value(best)) == pytest.approx(f.min_value, abs=1e-15)
    assert np.abs(f.grad(best)).max() <= 1e-12
    # nothing on a fine grid over the box is lower
    (x0, x1), (y0, y1) = f.box
    X, Y = np.meshgrid(np.linspace(x0, x1, 301), np.linspace(y0, y1, 301))
    assert f.value(np.stack([X, Y])).min() >= f.min_value - 1e-12


@pytest.mark.parametrize(
    ("name", "point", "value"),
    [
        ("sphere", (0.3, -0.4), 0.25),
        ("rosenbrock", (-1.2, 1.0), 24.2),  # Rosenbrock's classic start
        ("rosenbrock", (0.0, 0.0), 1.0),
        ("beale", (0.0, 0.0), 1.5**2 + 2.25**2 + 2.625**2),
        ("beale", (1.0, 0.0), 0.5**2 + 1.25**2 + 1.625**2),
        ("saddle", (1.0, 2.0), -3.0),
        ("ill_conditioned", (math.cos(math.pi / 6), math.sin(math.pi / 6)), 0.5),  # along the flat axis
        ("ill_conditioned", (-math.sin(math.pi / 6), math.cos(math.pi / 6)), 50.0),  # along the steep axis
    ],
)
def test_known_values(name: str, point: tuple[float, float], value: float) -> None:
    assert float(get(name).value(np.array(point))) == pytest.approx(value, rel=1e-12)


def test_ill_conditioned_quadratic_has_condition_number_100_off_axis() -> None:
    f = get("ill_conditioned")
    hessian = torch.autograd.functional.hessian(lambda p: f.value(p), torch.zeros(2, dtype=torch.float64))
    eigenvalues = np.sort(np.linalg.eigvalsh(hessian.numpy()))
    np.testing.assert_allclose(eigenvalues, [1.0, 100.0], rtol=1e-12)
    assert abs(hessian[0, 1].item()) > 1.0  # rotated: not diagonal, so per-coordinate scaling cannot fix it


def test_saddle_has_no_minimum() -> None:
    f = get("saddle")
    assert f.minimum is None and f.min_value is None
    values = [float(f.value(np.array([0.0, y]))) for y in (1.0, 10.0, 100.0)]
    assert values == [-1.0, -100.0, -10000.0]  # unbounded below along y
    np.testing.assert_array_equal(f.grad(np.zeros(2)), [0.0, 0.0])  # (0, 0) is a stationary point


def test_amsgrad_counterexample_is_reddi_et_al() -> None:
    f = get("amsgrad_counter")
    x = np.array([0.5])
    slopes = [float(f.grad(x, t)[0]) for t in range(1, 203)]
    assert slopes[0] == 1010.0 and slopes[101] == 1010.0  # t = 1 and t = 102
    assert slopes[1:101] == [-10.0] * 100 and slopes[102:] == [-10.0] * 100
    assert sum(slopes[:101]) == 10.0  # net positive over a period: the best fixed point is x = -1
    assert float(f.value(x, 1)) == 505.0 and float(f.value(x, 2)) == -5.0
    assert float(f.grad(x)[0]) == pytest.approx(10 / 101)  # t=None: the average over a period
    assert f.constrained and f.online and f.box == ((-1.0, 1.0),) and f.minimum == (-1.0,)
    assert f.period == 101


def test_registry_lookup_and_unknown_name() -> None:
    assert get("Rosenbrock") is functions.ROSENBROCK
    assert get("ill-conditioned") is functions.ILL_CONDITIONED
    assert set(NAMES) == {"sphere", "rosenbrock", "beale", "saddle", "ill_conditioned", "amsgrad_counter"}
    with pytest.raises(ValueError, match=r"Unknown test function 'himmelblau'; known: sphere, rosenbrock"):
        get("himmelblau")


@pytest.mark.parametrize("name", NAMES)
def test_every_function_describes_itself(name: str) -> None:
    f = get(name)
    assert len(f.start) == f.dim == len(f.box)
    for (low, high), s in zip(f.box, f.start, strict=True):
        assert low < high and low <= s <= high
    assert f.formula and f.title and f.note
