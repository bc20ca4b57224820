r"""The comparison article's "Adam from scratch": 60 steps of Adam on x^2 + y^2, with its surface.

The article minimises :math:`f(x, y) = x^2 + y^2` over :math:`[-1, 1]^2` from a random
point, with step size 0.02, :math:`\beta_1 = 0.8`, :math:`\beta_2 = 0.999`,
:math:`\epsilon = 10^{-8}` and 60 iterations, printing ``f`` at every step, and draws the
function as a 3-D surface (``plot_surface``, ``cmap='jet'``). Its update is the paper's
Algorithm 1, which is exactly what :class:`adamkit.numpy.Adam` computes:

.. math::

    m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad
    v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\quad
    \theta_t = \theta_{t-1} - \alpha\,\frac{m_t / (1-\beta_1^t)}{\sqrt{v_t / (1-\beta_2^t)} + \epsilon}

The random start is NumPy's legacy generator with the given seed,
``-1 + 2 * rand(2)``; seed 1 gives the start of the well-known version of this example
(about ``(-0.166, 0.441)``), which ends near ``f([-0.0, 0.0]) = 0.00000``.

Example::

    >>> from pathlib import Path
    >>> out = reproduce_sphere(Path("runs/sphere"))     # doctest: +SKIP
    >0 f([-0.14595599  0.42064899]) = 0.19825
    ...
    >>> out["final_value"] < 1e-4                        # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .functions import SPHERE
from .output import save_figure

#: The article's settings.
STEP_SIZE = 0.02
BETAS = (0.8, 0.999)
EPS = 1e-8
ITERATIONS = 60


def adam_on_sphere(start: np.ndarray, iterations: int = ITERATIONS) -> np.ndarray:
    """The article's run through :class:`adamkit.numpy.Adam`: the points, shape ``(iterations + 1, 2)``."""
    from adamkit.numpy import Adam

    point = np.array(start, dtype=np.float64)
    opt = Adam([point], lr=STEP_SIZE, betas=BETAS, eps=EPS)
    path = [point.copy()]
    for _ in range(iterations):
        opt.step([SPHERE.grad(point)])
        path.append(point.copy())
    return np.array(path)


def random_start(seed: int) -> np.ndarray:
    """A point drawn uniformly from [-1, 1]^2 as the article draws it (legacy ``rand``, own generator)."""
    low, high = np.array(SPHERE.box).T
    return low + np.random.RandomState(seed).rand(2) * (high - low)


def plot_surface(path: np.ndarray, out: Path) -> Path:
    """The article's surface (``cmap='jet'``) with Adam's path on it, beside a top view
    (contours, log-spaced so the last steps near the centre still show); saved as PNG ``out``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    (x0, x1), (y0, y1) = SPHERE.box
    X, Y = np.meshgrid(np.arange(x0, x1 + 1e-9, 0.05), np.arange(y0, y1 + 1e-9, 0.05))
    Z = SPHERE.value(np.stack([X, Y]))
    values = SPHERE.value(path.T)
    steps = len(path) - 1
    fig = Figure(figsize=(13, 5.8), layout="constrained")
    FigureCanvasAgg(fig)
    fig.suptitle(
        f"Adam from scratch on f(x, y) = x^2 + y^2: step size {STEP_SIZE}, betas {BETAS}, eps {EPS:g}, "
        f"{steps} iterations",
        fontsize=12,
    )
    # computed_zorder=False: draw in call order, so the path stays on top of the surface
    surface = fig.add_subplot(1, 2, 1, projection="3d", computed_zorder=False)
    surface.plot_surface(X, Y, Z, cmap="jet", alpha=0.6, linewidth=0, antialiased=True)
    surface.plot(
        path[:, 0],
        path[:, 1],
        values,
        "-o",
        color="k",
        markerfacecolor="white",
        markersize=3,
        linewidth=1.2,
        label="Adam's path",
    )
    surface.scatter(*path[0], values[0], color="k", s=50, depthshade=False, label=f"start {_point(path[0])}")
    surface.scatter(
        *path[-1],
        values[-1],
        color="red",
        s=50,
        depthshade=False,
        label=f"after {steps} steps {_point(path[-1])}",
    )
    surface.set_xlabel("x")
    surface.set_ylabel("y")
    surface.set_zlabel("f(x, y)")
    surface.set_title("the surface (plot_surface, cmap='jet')", fontsize=10)
    surface.view_init(elev=35, azim=-60)

    top = fig.add_subplot(1, 2, 2)
    levels = np.geomspace(1e-5, 2.0, 22)
    fine = np.meshgrid(np.linspace(x0, x1, 400), np.linspace(y0, y1, 400))
    shade = np.maximum(SPHERE.value(np.stack(fine)), levels[0])
    top.contourf(*fine, shade, levels=levels, norm=LogNorm(), cmap="jet", alpha=0.5)
    top.plot(path[:, 0], path[:, 1], "-o", color="k", markerfacecolor="white", markersize=4, linewidth=1)
    top.plot(0, 0, "*", color="gold", markeredgecolor="k", markersize=16, label="minimum (0, 0)")
    top.plot(*path[0], "o", color="k", markersize=8)
    top.plot(*path[-1], "o", color="red", markersize=6)
    # zoom on the path: a square around it, inside the box
    centre = (path.min(axis=0) + path.max(axis=0)) / 2
    half = float((path.max(axis=0) - path.min(axis=0)).max()) / 2 + 0.1
    top.set_xlim(max(x0, centre[0] - half), min(x1, centre[0] + half))
    top.set_ylim(max(y0, centre[1] - half), min(y1, centre[1] + half))
    top.set_aspect("equal")
    top.set_xlabel("x")
    top.set_ylabel("y")
    top.set_title(f"seen from above, zoomed (log-spaced contours); final f = {values[-1]:.2e}", fontsize=10)
    handles, labels = surface.get_legend_handles_labels()
    more_handles, more_labels = top.get_legend_handles_labels()
    fig.legend(handles + more_handles, labels + more_labels, loc="outside lower center", ncols=4, fontsize=9)
    out.parent.mkdir(parents=True, exist_ok=True)
    return save_figure(fig, out, dpi=110)


def _point(p: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.3g}" for v in p) + ")"


def reproduce_sphere(
    out_dir: Path, seed: int = 1, *, iterations: int = ITERATIONS, echo: Callable[[str], Any] | None = print
) -> dict[str, Any]:
    """Run the article's example, print each iteration as it does, save the surface plot.

    Args:
      out_dir: folder for ``sphere-surface.png`` (created if needed): the surface with the
        path, and a top view.
      seed: the seed of the random start (1: the well-known run).
      iterations: the article's 60 by default.
      echo: where the ``>t f([x y]) = value`` lines go (``None``: nowhere).

    Returns:
      ``{"start", "final_point", "final_value", "iterations", "plot"}``: the points as
      tuples of floats, the value as a float, the plot as a :class:`~pathlib.Path`.
    """
    start = random_start(seed)
    path = adam_on_sphere(start, iterations)
    values = SPHERE.value(path.T)
    if echo is not None:
        for t in range(1, len(path)):  # the article prints the point after each update, from >0
            echo(f">{t - 1} f({path[t]}) = {values[t]:.5f}")
    plot = plot_surface(path, Path(out_dir) / "sphere-surface.png")
    return {
        "start": tuple(float(v) for v in start),
        "final_point": tuple(float(v) for v in path[-1]),
        "final_value": float(values[-1]),
        "iterations": iterations,
        "plot": plot,
    }
