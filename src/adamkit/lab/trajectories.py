"""``adamkit trajectories``: watch optimizers move on small test functions.

Each optimizer starts from the function's start point and takes ``--steps`` steps on its
exact gradient (:mod:`adamkit.lab.functions`), through :mod:`adamkit.numpy`. The figure
puts the paths over a contour plot (log-spaced levels, so the floor of a valley shows)
beside the loss ``f(x_t) - f*`` against the step on a log scale; ``--gif`` also animates
it. For Reddi et al.'s online counterexample (``amsgrad_counter``) the left panel is
``x_t`` against ``t``, and the loss is that of ``f_t`` averaged over one period.

Learning rates: one per function and optimizer, picked so each method makes visible
progress in the default number of steps (the table :data:`SETTINGS`). ``--lr``
overrides them all; other hyperparameters are torch.optim's defaults, except where a
function's setting says otherwise (the counterexample runs Reddi et al.'s
``betas=(0.9, 0.99)``).

Example::

    adamkit trajectories --function rosenbrock --optimizers adam,sgd,rmsprop,adagrad,amsgrad

From Python::

    >>> from adamkit.lab.trajectories import trajectory
    >>> path = trajectory("sphere", "adam", steps=100)
    >>> path.shape
    (101, 2)
"""

from __future__ import annotations

import argparse
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_open
from . import arguments
from .functions import FUNCTIONS, TestFunction, get
from .output import check_writable, save_figure

# --- which rates and how many steps -------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """How a function is run by default.

    Attributes:
      steps: the default number of steps.
      optimizers: the optimizers drawn when none are named.
      lrs: the learning rate of each lab optimizer on this function.
      hyper: hyperparameters set wherever the optimizer has them (``betas``).
    """

    steps: int
    optimizers: tuple[str, ...]
    lrs: Mapping[str, float]
    hyper: Mapping[str, Any] = field(default_factory=dict)


def _lrs(adaptive: float, **others: float) -> dict[str, float]:
    """The Adam family at one rate (they take steps of about ``lr`` each), the rest named."""
    family = ("adam", "amsgrad", "adamw", "nadam", "radam", "adamax", "swats")
    # the modern family's steps are about lr too (Lion's exactly; LAMB's and Adafactor's relative)
    family += ("lion", "cautious-lion", "ademamix", "cautious-ademamix", "adabelief", "lamb", "adafactor")
    family += ("schedulefree", "sfadamw", "cautious-adam", "cautious-adamw")
    return {**{name: adaptive for name in family}, **others}


_SHOWN = ("adam", "sgd", "momentum", "rmsprop", "adagrad", "amsgrad")

#: Per function: default steps, optimizers drawn, learning rates. Found by sweeping each
#: method over rates 1e-4..10 and keeping one that moves steadily without diverging.
SETTINGS: dict[str, Setting] = {
    "sphere": Setting(
        100,
        _SHOWN,
        _lrs(0.05, radam=0.1, sgd=0.05, momentum=0.02, rmsprop=0.01, adagrad=0.2, adadelta=3.0),
    ),
    "rosenbrock": Setting(
        2000,
        _SHOWN,
        # RAdam's first steps are plain momentum steps of size lr * |g| (|g| ~ 200 here): kept small
        _lrs(
            0.05,
            nadam=0.03,
            radam=0.003,
            adamax=0.1,
            sgd=1e-3,
            momentum=5e-4,
            rmsprop=3e-3,
            adagrad=0.5,
            adadelta=0.3,
        ),
    ),
    "beale": Setting(
        1000,
        _SHOWN,
        _lrs(0.03, radam=0.01, adamax=0.3, sgd=0.01, momentum=1e-3, rmsprop=0.01, adagrad=0.5, adadelta=1.0),
    ),
    "saddle": Setting(
        100,
        _SHOWN,
        _lrs(0.02, radam=0.05, adamax=0.03, sgd=0.03, momentum=0.01, rmsprop=0.01, adagrad=0.1, adadelta=0.3),
    ),
    "ill_conditioned": Setting(
        200,
        _SHOWN,
        # SGD is stable below 2 / (largest curvature 100) = 0.02; at 0.018 it zig-zags
        _lrs(0.05, radam=0.01, adamax=0.1, sgd=0.018, momentum=2e-3, rmsprop=0.02, adagrad=0.3, adadelta=1.0),
    ),
    "amsgrad_counter": Setting(
        101 * 500,  # whole periods: the run ends just before a large gradient
        ("adam", "amsgrad"),
        # AMSGrad's drift to -1 is 0.1 lr per period, its swing within a period 10 lr: 0.03 balances them
        _lrs(0.03, sgd=1e-3, momentum=1e-4, rmsprop=0.02, adagrad=0.1, adadelta=1.0),
        hyper={"betas": (0.9, 0.99)},  # Reddi et al.'s Section 5: beta2 forgets the rare gradient in time
    ),
}


def default_lr(function: str | TestFunction, optimizer: str) -> float:
    """The learning rate ``optimizer`` uses on ``function`` unless told otherwise."""
    f = _function(function)
    lrs = SETTINGS[f.name].lrs
    if optimizer not in lrs:
        raise ValueError(f"Unknown optimizer {optimizer!r}; known: {', '.join(lrs)}")
    return lrs[optimizer]


# --- running ------------------------------------------------------------------------------------


def _function(function: str | TestFunction) -> TestFunction:
    return get(function) if isinstance(function, str) else function


def make_optimizer(name: str, point: np.ndarray, lr: float, function: TestFunction) -> Any:
    """The :mod:`adamkit.numpy` optimizer the lab calls ``name``, over the array ``point``.

    The lab's table (:data:`adamkit.lab.optimizers.OPTIMIZERS`) says which class and options
    (``amsgrad`` is ``Adam(amsgrad=True)``, ``momentum`` is ``SGD(momentum=0.9)``); the class
    is looked up now, by name, in :mod:`adamkit.numpy`.
    """
    import adamkit.numpy

    from .optimizers import OPTIMIZERS, numpy_names

    if name not in numpy_names():
        raise ValueError(f"Unknown optimizer {name!r}; known: {', '.join(numpy_names())}")
    spec = OPTIMIZERS[name]
    cls = getattr(adamkit.numpy, spec.class_name, None)
    if cls is None:
        missing = f"adamkit.numpy.{spec.class_name}"
        raise ValueError(f"Optimizer {name!r} needs {missing}, which this install lacks")
    accepted = cls.rule.defaults
    hyper = {k: v for k, v in SETTINGS[function.name].hyper.items() if k in accepted}
    opt = cls([point], lr=lr, **{**hyper, **spec.options})
    if hasattr(opt, "train"):  # Schedule-Free: the path is its gradient point y, where it steps
        opt.train()
    return opt


def trajectory(
    function: str | TestFunction,
    optimizer: str,
    steps: int,
    lr: float | None = None,
    *,
    start: Sequence[float] | None = None,
) -> np.ndarray:
    """The points an optimizer visits: row ``t`` is the point after ``t`` steps.

    Args:
      function: a :mod:`~adamkit.lab.functions` name or :class:`TestFunction`.
      optimizer: a lab name (``adam``, ``sgd``, ``momentum``, ``amsgrad``, ...).
      steps: how many steps to take (>= 0).
      lr: the learning rate; ``None`` takes :func:`default_lr`.
      start: the first point; ``None`` takes the function's.

    Returns:
      A float64 array of shape ``(steps + 1, dim)`` (``dim`` is 2 for the 2-D functions,
      1 for the counterexample). Step ``t`` (from 1) uses the gradient of ``f_t`` at row
      ``t - 1``; a constrained function's point is clamped into its box after each step.
      A run that overflows is cut there: the rows after it are NaN.
    """
    f = _function(function)
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    point = np.array(f.start if start is None else start, dtype=np.float64)
    if point.shape != (f.dim,):
        raise ValueError(f"start must have {f.dim} coordinates for {f.name}, got {point.tolist()}")
    opt = make_optimizer(optimizer, point, default_lr(f, optimizer) if lr is None else lr, f)
    low, high = np.array(f.box, dtype=np.float64).T
    path = np.full((steps + 1, f.dim), np.nan)
    path[0] = point
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            opt.step([f.grad(point, t)])  # updates ``point`` in place
            if f.constrained:
                np.clip(point, low, high, out=point)  # Reddi et al.'s projection onto [-1, 1]
            if not np.all(np.isfinite(point)):
                break
            path[t] = point
    return path


@dataclass(frozen=True)
class Run:
    """One optimizer's path on one function, with the rate it used."""

    optimizer: str
    lr: float
    path: np.ndarray

    @property
    def diverged(self) -> bool:
        return not np.all(np.isfinite(self.path))

    @property
    def final(self) -> np.ndarray:
        """The last finite point."""
        finite = np.all(np.isfinite(self.path), axis=1)
        return self.path[np.flatnonzero(finite)[-1]]


def run_all(
    function: TestFunction, optimizers: Sequence[str], steps: int, lr: float | None = None
) -> list[Run]:
    """Every optimizer from the same start, each at its own rate unless ``lr`` is given."""
    runs = []
    for name in optimizers:
        rate = default_lr(function, name) if lr is None else lr
        runs.append(Run(name, rate, trajectory(function, name, steps, rate)))
    return runs


# --- plotting -----------------------------------------------------------------------------------


def _loss(function: TestFunction, path: np.ndarray) -> np.ndarray:
    """``f(x_t) - f*`` per row (``f(x_t)`` where there is no minimum; for an online function,
    ``f`` averaged over one period)."""
    with np.errstate(over="ignore", invalid="ignore"):
        values = np.asarray(function.value(path.T), dtype=np.float64)
    return values if function.min_value is None else values - function.min_value


def _period_mean(values: np.ndarray, period: int) -> np.ndarray:
    """The mean of each value and the ``period - 1`` before it (fewer at the start)."""
    total = np.cumsum(values)
    counts = np.minimum(np.arange(1, len(values) + 1), period)
    total[period:] = total[period:] - total[:-period]
    return total / counts


class _Figure:
    """The two panels and the artists that grow with the step (static PNG = the last frame)."""

    floor = 1e-16  # an exact zero has no logarithm; float64 noise lies below this anyway

    def __init__(self, function: TestFunction, runs: Sequence[Run], steps: int) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.function, self.runs, self.steps = function, runs, steps
        self.fig = Figure(figsize=(13, 5.4), layout="constrained")
        FigureCanvasAgg(self.fig)  # no pyplot, no global backend: safe in scripts and servers
        self.left, self.right = self.fig.subplots(1, 2, width_ratios=(1.1, 1))
        # ten distinct colours; beyond ten the colours repeat with dashed lines
        self.colours = [f"C{i % 10}" for i in range(len(runs))]
        self.styles = ["-" if i < 10 else "--" for i in range(len(runs))]
        start = ", ".join(f"{v:g}" for v in function.start)
        self.fig.suptitle(
            f"{function.title}: {len(runs)} optimizer(s), {steps} steps from ({start})", fontsize=13
        )
        self.paths, self.ends = [], []
        if function.dim == 2:
            self._draw_contours()
        else:
            self._draw_online()
        self._draw_loss()
        # one legend for both panels, below them, so it never hides a path
        handles, labels = self.left.get_legend_handles_labels()
        self.fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 7), fontsize=9)

    def _label(self, run: Run) -> str:
        return f"{run.optimizer} (lr {run.lr:g})" + (", diverged" if run.diverged else "")

    # left panel, 2-D: paths over the contours
    def _draw_contours(self) -> None:
        from matplotlib.colors import LogNorm
        from matplotlib.ticker import LogLocator

        f, ax = self.function, self.left
        (x0, x1), (y0, y1) = f.box
        X, Y = np.meshgrid(np.linspace(x0, x1, 400), np.linspace(y0, y1, 400))
        Z = f.value(np.stack([X, Y]))
        if f.min_value is not None:
            # log-spaced levels above the minimum: the valley floor gets as many lines as the walls
            gap = np.maximum(Z - f.min_value, 0)
            top = float(gap.max())
            levels = np.geomspace(top * 1e-5, top, 24)
            shade = np.maximum(gap, levels[0])
            filled = ax.contourf(X, Y, shade, levels=levels, norm=LogNorm(), cmap="viridis", alpha=0.45)
            ax.contour(X, Y, gap, levels=levels, colors="k", linewidths=0.3, alpha=0.4)
            bar = self.fig.colorbar(filled, ax=ax, shrink=0.9, pad=0.02, ticks=LogLocator(base=10))
            bar.set_label("f(x, y) - f*  (contour levels, log-spaced)")
        else:
            bound = float(np.abs(Z).max())
            levels = np.linspace(-bound, bound, 25)
            filled = ax.contourf(X, Y, Z, levels=levels, cmap="RdBu_r", alpha=0.5)
            ax.contour(X, Y, Z, levels=levels, colors="k", linewidths=0.3, alpha=0.4)
            bar = self.fig.colorbar(filled, ax=ax, shrink=0.9, pad=0.02)
            bar.set_label("f(x, y)  (no minimum)")
        if f.minimum is not None:
            where = ", ".join(f"{v:g}" for v in f.minimum)
            ax.plot(
                *f.minimum,
                marker="*",
                markersize=16,
                color="gold",
                markeredgecolor="k",
                linestyle="none",
                label=f"minimum ({where})",
                zorder=5,
            )
        ax.plot(*f.start, marker="o", markersize=8, color="k", linestyle="none", label="start", zorder=5)
        for run, colour, style in zip(self.runs, self.colours, self.styles, strict=True):
            (line,) = ax.plot([], [], style, color=colour, linewidth=1.6, label=self._label(run), zorder=4)
            (end,) = ax.plot([], [], "o", color=colour, markeredgecolor="white", markersize=7, zorder=6)
            self.paths.append(line)
            self.ends.append(end)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title(textwrap.fill(f"paths over the contours of f(x, y) = {f.formula}", 64), fontsize=10)

    # left panel, 1-D online counterexample: x_t against t
    def _draw_online(self) -> None:
        f, ax = self.function, self.left
        low, high = f.box[0]
        best = f.minimum[0]
        ax.axhline(best, color="k", linestyle="--", linewidth=0.8, label=f"best fixed point x* = {best:g}")
        ax.axhline(high, color="grey", linestyle=":", linewidth=0.8, label=f"worst point x = {high:g}")
        for run, colour, style in zip(self.runs, self.colours, self.styles, strict=True):
            (line,) = ax.plot([], [], style, color=colour, linewidth=0.8, label=self._label(run))
            self.paths.append(line)
        ax.set_xlim(0, max(self.steps, 1))
        ax.set_ylim(low - 0.1, high + 0.1)
        ax.set_xlabel("step t")
        ax.set_ylabel("x_t")
        ax.set_title(f"{f.formula}\n(projected onto [{low:g}, {high:g}] by clamping)", fontsize=10)

    # right panel: the loss against the step
    def _draw_loss(self) -> None:
        f, ax = self.function, self.right
        self.losses = [_loss(f, run.path) for run in self.runs]
        if f.online:  # within a period x_t swings by ~10 lr; its mean over the period is the trend
            self.losses = [_period_mean(loss, f.period) for loss in self.losses]
        self.loss_lines = []
        for colour, style in zip(self.colours, self.styles, strict=True):
            (line,) = ax.plot([], [], style, color=colour, linewidth=1.2 if f.dim == 2 else 0.8)
            self.loss_lines.append(line)
        ax.set_xlim(0, max(self.steps, 1))
        finite = np.concatenate([v[np.isfinite(v)] for v in self.losses] + [np.ones(1)])
        if f.min_value is not None:
            ax.set_yscale("log")
            low = max(float(finite.min()), self.floor)
            high = max(float(finite.max()), low * 10)
            ax.set_ylim(low / 3, high * 3)
            what = f"F(x_t) - F*, mean over {f.period} steps" if f.online else "f(x_t) - f*"
            ax.set_ylabel(f"{what}  (log scale)")
        else:
            ax.set_yscale("symlog")
            ax.set_ylim(min(float(finite.min()), -1.0) * 3, max(float(finite.max()), 1.0) * 3)
            ax.set_ylabel("f(x_t)  (symmetric log scale; no minimum)")
        ax.set_xlabel("step t")
        about = "; F = f_t averaged over one period (minimum at x*)" if f.online else ""
        ax.set_title(f"loss against steps{about}", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)

    def show_until(self, k: int) -> None:
        """Draw every path and loss curve up to step ``k``."""
        for i, run in enumerate(self.runs):
            shown = run.path[: k + 1]
            if self.function.dim == 2:
                self.paths[i].set_data(shown[:, 0], shown[:, 1])
                last = shown[np.all(np.isfinite(shown), axis=1)][-1]
                self.ends[i].set_data([last[0]], [last[1]])
            else:
                self.paths[i].set_data(np.arange(len(shown)), shown[:, 0])
            loss = self.losses[i][: k + 1]
            if self.function.min_value is not None:
                loss = np.maximum(loss, self.floor)
            self.loss_lines[i].set_data(np.arange(len(loss)), loss)


def plot(function: TestFunction, runs: Sequence[Run], out: Path, *, dpi: int = 110) -> Path:
    """Save the two-panel figure of ``runs`` as the PNG ``out``; return its path."""
    steps = len(runs[0].path) - 1 if runs else 0
    figure = _Figure(function, runs, steps)
    figure.show_until(steps)
    out.parent.mkdir(parents=True, exist_ok=True)
    return save_figure(figure.fig, out, dpi=dpi)


def animate(
    function: TestFunction, runs: Sequence[Run], out: Path, *, frames: int = 80, fps: int = 12, dpi: int = 70
) -> Path:
    """Save the figure as an animated GIF whose paths grow step by step (needs Pillow).

    The contours, axes and legend are drawn once; each frame redraws only the paths and
    loss curves over that background (blitting), so a frame costs milliseconds rather than
    a full redraw. The last frame is held for half a second.
    """
    try:
        from PIL import Image  # matplotlib's own dependency; checked to fail with a clear message
    except ImportError:
        raise arguments.LabError("--gif needs Pillow (pip install pillow)") from None
    steps = len(runs[0].path) - 1 if runs else 0
    figure = _Figure(function, runs, steps)
    figure.fig.set_dpi(dpi)
    moving = [*figure.paths, *figure.ends, *figure.loss_lines]
    for artist in moving:
        artist.set_animated(True)  # left out of a full draw: the background has no paths
    canvas = figure.fig.canvas
    canvas.draw()
    figure.fig.set_layout_engine("none")  # keep the layout of the first draw for every frame
    background = canvas.copy_from_bbox(figure.fig.bbox)
    images = []
    for k in np.unique(np.linspace(0, steps, min(frames, steps + 1)).astype(int)):
        canvas.restore_region(background)
        figure.show_until(int(k))
        for artist in moving:
            figure.fig.draw_artist(artist)
        images.append(
            Image.frombuffer("RGBA", canvas.get_width_height(), bytes(canvas.buffer_rgba())).convert("RGB")
        )
    # one palette for every frame, from the last (it has every colour): quantising each frame
    # on its own would cost most of the time and make the background flicker
    palette = images[-1].quantize(colors=255)
    images = [image.quantize(palette=palette, dither=Image.Dither.NONE) for image in images]
    images += [images[-1]] * max(1, fps // 2)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(out, "wb") as handle:
        images[0].save(
            handle, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0
        )
    return out


# --- the command --------------------------------------------------------------------------------


def function_name(text: str) -> str:
    """An argparse type: one of :data:`adamkit.lab.functions.FUNCTIONS`."""
    try:
        return get(text).name
    except ValueError:
        known = ", ".join(FUNCTIONS)
        raise argparse.ArgumentTypeError(f"unknown function {text!r} (known: {known})") from None


def lab_optimizers(text: str) -> list[str]:
    """An argparse type: a comma-separated list of the lab's optimizer names (no ``torch-`` peers)."""
    from .optimizers import numpy_names

    return arguments.listed_names(text, numpy_names())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``adamkit trajectories``."""
    parser.add_argument(
        "--function",
        type=function_name,
        default="rosenbrock",
        help=f"test function (default: rosenbrock; one of {', '.join(FUNCTIONS)})",
    )
    parser.add_argument(
        "--optimizers",
        type=lab_optimizers,
        default=None,
        help="comma-separated lab names, e.g. adam,sgd,rmsprop,adagrad,amsgrad (default: "
        "adam,sgd,momentum,rmsprop,adagrad,amsgrad; adam,amsgrad for amsgrad_counter)",
    )
    parser.add_argument(
        "--steps",
        type=arguments.positive_int,
        default=None,
        help="steps per optimizer (default: the function's, e.g. 2000 on rosenbrock)",
    )
    parser.add_argument(
        "--lr",
        type=arguments.positive_float,
        default=None,
        help="one learning rate for every optimizer (default: a tuned rate per function and optimizer)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs") / "trajectories",
        help="folder for the PNG (and GIF) (default: runs/trajectories)",
    )
    parser.add_argument("--gif", action="store_true", help="also write an animated GIF (needs Pillow)")


def _fmt(value: float) -> str:
    return "nan" if not math.isfinite(value) else f"{value:.6g}"


def table(function: TestFunction, runs: Sequence[Run]) -> list[str]:
    """The final point and loss of each run, as aligned text lines."""
    coords = ["x", "y"][: function.dim]
    loss_name = "f - f*" if function.min_value is not None else "f"
    head = f"{'optimizer':<10} {'lr':>8} " + " ".join(f"{c:>12}" for c in coords) + f" {loss_name:>12}  note"
    lines = [head, "-" * len(head)]
    for run in runs:
        final = run.final
        loss = float(_loss(function, final[None, :])[0])
        note = "diverged (last finite point)" if run.diverged else ""
        if function.minimum is not None and not note:
            note = f"distance to minimum {_fmt(float(np.linalg.norm(final - np.array(function.minimum))))}"
        lines.append(
            f"{run.optimizer:<10} {run.lr:>8g} "
            + " ".join(f"{_fmt(v):>12}" for v in final)
            + f" {_fmt(loss):>12}  {note}"
        )
    return lines


def run(args: argparse.Namespace) -> int:
    """Run ``adamkit trajectories``: print the final points, write the PNG (and GIF)."""
    f = get(args.function)
    setting = SETTINGS[f.name]
    names = args.optimizers or list(setting.optimizers)
    steps = args.steps or setting.steps
    check_writable(args.out)
    try:
        runs = run_all(f, names, steps, args.lr)
    except ValueError as error:  # an optimizer this install lacks
        raise arguments.LabError(str(error)) from None
    print(
        f"{f.title}: f = {f.formula}; {steps} steps from {f.start}"
        + (f"; minimum at {f.minimum}" if f.minimum is not None else "; no minimum")
    )
    for line in table(f, runs):
        print(line)
    png = plot(f, runs, args.out / f"trajectories-{f.name}.png")
    print(f"PNG: {png.resolve()}")
    if args.gif:
        gif = animate(f, runs, args.out / f"trajectories-{f.name}.gif")
        print(f"GIF: {gif.resolve()}")
    return 0
