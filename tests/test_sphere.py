"""The comparison article's Adam from scratch on x^2 + y^2, reproduced through adamkit.numpy.Adam."""

from __future__ import annotations

from math import sqrt
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from adamkit.lab.sphere import adam_on_sphere, random_start, reproduce_sphere


def article_adam(
    start: np.ndarray,
    n_iter: int = 60,
    alpha: float = 0.02,
    beta1: float = 0.8,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> np.ndarray:
    """The article's loop, coordinate by coordinate, as it writes it: the independent oracle."""
    x = [float(v) for v in start]
    m, v = [0.0, 0.0], [0.0, 0.0]
    path = [list(x)]
    for t in range(n_iter):
        g = [2.0 * x[0], 2.0 * x[1]]  # derivative of x^2 + y^2
        for i in range(2):
            m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1.0 - beta2) * g[i] ** 2
            mhat = m[i] / (1.0 - beta1 ** (t + 1))
            vhat = v[i] / (1.0 - beta2 ** (t + 1))
            x[i] = x[i] - alpha * mhat / (sqrt(vhat) + eps)
        path.append(list(x))
    return np.array(path)


def test_the_run_matches_the_articles_loop() -> None:
    for seed in (1, 2, 7):
        start = random_start(seed)
        np.testing.assert_allclose(adam_on_sphere(start), article_adam(start), rtol=0, atol=1e-12)


def test_seed_1_starts_where_the_well_known_run_starts() -> None:
    np.testing.assert_allclose(random_start(1), [-0.165955990594852, 0.4406489868843162], rtol=1e-15)


def test_reproduce_sphere(tmp_path: Path) -> None:
    lines: list[str] = []
    out = reproduce_sphere(tmp_path / "sphere", seed=1, echo=lines.append)
    assert set(out) >= {"final_point", "final_value", "plot"}
    # the article prints one line per iteration, the first one known from its output
    assert len(lines) == 60
    assert lines[0] == ">0 f([-0.14595599  0.42064899]) = 0.19825"
    assert lines[-1].startswith(">59 f(") and lines[-1].endswith(" = 0.00000")
    assert out["final_value"] < 1e-4
    assert out["final_value"] == pytest.approx(sum(v * v for v in out["final_point"]), rel=1e-12)
    assert np.abs(out["final_point"]).max() < 1e-2
    expected = article_adam(random_start(1))[-1]
    np.testing.assert_allclose(out["final_point"], expected, atol=1e-12)

    plot = out["plot"]
    assert plot == tmp_path / "sphere" / "sphere-surface.png" and plot.exists()
    image = imread(plot)
    assert image.shape[0] >= 400 and image.shape[1] >= 800
    pixels = image[..., :3].reshape(-1, 3)
    assert len(np.unique((pixels * 255).astype(np.uint8), axis=0)) > 500  # a jet surface, not a blank page


def test_other_seeds_start_elsewhere_and_descend(tmp_path: Path) -> None:
    """60 steps of about 0.02 each: from a corner of the box the run gets close, not all the way."""
    for seed in (2, 3):
        out = reproduce_sphere(tmp_path, seed=seed, echo=None)
        start = np.array(out["start"])
        assert not np.allclose(start, random_start(1))
        assert out["final_value"] < 0.02 * float(start @ start)
