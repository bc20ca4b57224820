r"""Small test functions for watching optimizers move: values, analytic gradients, boxes, minima.

Each :class:`TestFunction` takes a point ``p`` whose first axis holds the coordinates
(``p[0]`` is x, ``p[1]`` is y), so the same code evaluates one point of shape ``(2,)``
and a whole grid of shape ``(2, H, W)`` for a contour plot. Values and gradients use
only operators and functions NumPy and torch share, so the tests can check every
hand-written gradient against ``torch.autograd``.

================  ======================================  =================  ===============
name              f(x, y)                                 minimum            why it is here
================  ======================================  =================  ===============
sphere            x^2 + y^2                               (0, 0), 0          the article's bowl
rosenbrock        (1 - x)^2 + 100 (y - x^2)^2              (1, 1), 0          a curved valley
beale             sum_i (c_i - x + x y^i)^2                (3, 0.5), 0        flat plateaus, steep walls
saddle            x^2 - y^2                               none (unbounded)   escaping a saddle point
ill_conditioned   0.5 (u^2 + 100 v^2), (u, v) rotated 30°  (0, 0), 0          curvature ratio 100, not
                                                                             aligned with the axes
amsgrad_counter   f_t(x) = 1010 x or -10 x (online, 1-D)   x = -1             Reddi et al.'s example
================  ======================================  =================  ===============

The last one is *online*: the function changes with the step ``t`` (Reddi, Kale and
Kumar, "On the Convergence of Adam and Beyond", ICLR 2018, Section 5). Its gradient is
``1010`` on steps with ``t mod 101 == 1`` and ``-10`` on the others, and iterates are
projected back onto ``[-1, 1]`` by clamping. Over one period the gradients sum to
``1010 - 100 * 10 = 10 > 0``, so the best fixed point is ``x = -1``; Adam forgets the
rare large gradient and drifts to ``+1``, AMSGrad remembers it and goes to ``-1``.

Example:
    >>> import numpy as np
    >>> from adamkit.lab.functions import get
    >>> f = get("rosenbrock")
    >>> origin = np.array([0.0, 0.0])
    >>> float(f.value(origin)), f.grad(origin).tolist(), f.minimum
    (1.0, [-2.0, 0.0], (1.0, 1.0))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ..rules.spec import Array, namespace

Box = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class TestFunction:
    """One test function and what a plot or a test needs to know about it.

    Attributes:
      name: registry name (``"rosenbrock"``).
      title: for plot titles (``"Rosenbrock"``).
      formula: the function in plain text, for plot titles and ``--help``.
      value: ``value(p, t=None) -> f``: the value at ``p`` (coordinates on the first axis).
        ``t`` is the step for online functions (ignored by the others); ``None`` there means
        the average over one period.
      grad: ``grad(p, t=None) -> array like p``: the analytic gradient.
      box: the plotting box, ``((x_low, x_high), (y_low, y_high))``; for a constrained
        function also the feasible set.
      start: the default starting point.
      minimum: the minimiser, or ``None`` where there is none (the saddle).
      min_value: the value at the minimum, or ``None``.
      constrained: iterates are projected onto ``box`` by clamping after each step.
      online: the function depends on the step ``t``.
      period: for an online function, the period of its dependence on ``t``.
      note: one sentence on what to look for.
    """

    __test__ = False  # a name starting with "Test" is not a pytest class

    name: str
    title: str
    formula: str
    value: Callable[..., Array]
    grad: Callable[..., Array]
    box: Box
    start: tuple[float, ...]
    minimum: tuple[float, ...] | None
    min_value: float | None
    constrained: bool = False
    online: bool = False
    period: int = 0
    note: str = ""

    @property
    def dim(self) -> int:
        return len(self.start)


# --- sphere -------------------------------------------------------------------------------------


def _sphere(p: Array, t: int | None = None) -> Array:
    return p[0] ** 2 + p[1] ** 2


def _sphere_grad(p: Array, t: int | None = None) -> Array:
    return 2 * p


SPHERE = TestFunction(
    name="sphere",
    title="Sphere",
    formula="x^2 + y^2",
    value=_sphere,
    grad=_sphere_grad,
    box=((-1.0, 1.0), (-1.0, 1.0)),
    start=(-0.8, 0.6),
    minimum=(0.0, 0.0),
    min_value=0.0,
    note="The article's bowl: every method should find the centre.",
)


# --- Rosenbrock ---------------------------------------------------------------------------------


def _rosenbrock(p: Array, t: int | None = None) -> Array:
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _rosenbrock_grad(p: Array, t: int | None = None) -> Array:
    x, y = p[0], p[1]
    valley = y - x**2
    return namespace(p).stack([-2 * (1 - x) - 400 * x * valley, 200 * valley])


ROSENBROCK = TestFunction(
    name="rosenbrock",
    title="Rosenbrock",
    formula="(1 - x)^2 + 100 (y - x^2)^2",
    value=_rosenbrock,
    grad=_rosenbrock_grad,
    box=((-2.0, 2.0), (-1.0, 3.0)),
    start=(-1.2, 1.0),  # Rosenbrock's own starting point (1960)
    minimum=(1.0, 1.0),
    min_value=0.0,
    note="Finding the curved valley is easy; following it to (1, 1) is slow.",
)


# --- Beale --------------------------------------------------------------------------------------

_BEALE_C = (1.5, 2.25, 2.625)


def _beale(p: Array, t: int | None = None) -> Array:
    x, y = p[0], p[1]
    return sum((c - x + x * y ** (i + 1)) ** 2 for i, c in enumerate(_BEALE_C))


def _beale_grad(p: Array, t: int | None = None) -> Array:
    x, y = p[0], p[1]
    gx, gy = 0 * x, 0 * y
    for i, c in enumerate(_BEALE_C):
        k = i + 1
        residual = c - x + x * y**k
        gx = gx + 2 * residual * (y**k - 1)
        gy = gy + 2 * residual * (k * x * y ** (k - 1))
    return namespace(p).stack([gx, gy])


BEALE = TestFunction(
    name="beale",
    title="Beale",
    formula="(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2",
    value=_beale,
    grad=_beale_grad,
    box=((-0.5, 4.5), (-1.0, 2.0)),  # the search domain is [-4.5, 4.5]^2; this shows the action
    # From here a well-tuned method reaches (3, 0.5); from (0.5, 1.5) Adam-like steps slide left
    # into the valley that runs to x -> -inf along y -> 1 (f tends to about 0.45 there: no minimum).
    start=(1.0, 1.5),
    minimum=(3.0, 0.5),
    min_value=0.0,
    note="Gradients span orders of magnitude: steep walls, a flat valley floor.",
)


# --- saddle -------------------------------------------------------------------------------------


def _saddle(p: Array, t: int | None = None) -> Array:
    return p[0] ** 2 - p[1] ** 2


def _saddle_grad(p: Array, t: int | None = None) -> Array:
    return namespace(p).stack([2 * p[0], -2 * p[1]])


SADDLE = TestFunction(
    name="saddle",
    title="Saddle",
    formula="x^2 - y^2",
    value=_saddle,
    grad=_saddle_grad,
    box=((-1.5, 1.5), (-1.5, 1.5)),
    # Almost on the stable line y = 0: plain gradient descent first slides towards the
    # saddle point (0, 0) and leaves it slowly; sign-like adaptive steps leave at once.
    start=(1.0, 1e-3),
    minimum=None,  # unbounded below along y: every run diverges, only the speed differs
    min_value=None,
    note="No minimum: f -> -inf along y. The question is how fast a method leaves (0, 0).",
)


# --- ill-conditioned quadratic ------------------------------------------------------------------

_CONDITION = 100.0
_ANGLE = math.pi / 6  # 30 degrees: not axis-aligned, so per-coordinate scaling cannot undo it
_COS, _SIN = math.cos(_ANGLE), math.sin(_ANGLE)


def _rotated(p: Array) -> tuple[Array, Array]:
    """The coordinates along the principal axes: ``u`` (curvature 1) and ``v`` (curvature 100)."""
    x, y = p[0], p[1]
    return _COS * x + _SIN * y, -_SIN * x + _COS * y


def _ill_conditioned(p: Array, t: int | None = None) -> Array:
    u, v = _rotated(p)
    return 0.5 * (u**2 + _CONDITION * v**2)


def _ill_conditioned_grad(p: Array, t: int | None = None) -> Array:
    u, v = _rotated(p)
    # chain rule through the rotation: d/dx = u cos - 100 v sin, d/dy = u sin + 100 v cos
    return namespace(p).stack([_COS * u - _SIN * _CONDITION * v, _SIN * u + _COS * _CONDITION * v])


ILL_CONDITIONED = TestFunction(
    name="ill_conditioned",
    title="Ill-conditioned quadratic",
    formula="0.5 (u^2 + 100 v^2), (u, v) = (x, y) rotated by 30°",
    value=_ill_conditioned,
    grad=_ill_conditioned_grad,
    box=((-2.0, 2.0), (-2.0, 2.0)),
    start=(-1.6, -0.2),  # off the valley's axis: the first steps cross the steep direction
    minimum=(0.0, 0.0),
    min_value=0.0,
    note="Condition number 100: SGD zig-zags across the narrow valley, momentum helps.",
)


# --- Reddi et al.'s online counterexample -------------------------------------------------------

_PERIOD = 101
_BIG, _SMALL = 1010.0, -10.0
_AVERAGE = (_BIG + (_PERIOD - 1) * _SMALL) / _PERIOD  # 10/101 > 0: the best fixed x is -1


def _counter_slope(t: int | None) -> float:
    if t is None:
        return _AVERAGE
    return _BIG if t % _PERIOD == 1 else _SMALL


def _counter(p: Array, t: int | None = None) -> Array:
    return _counter_slope(t) * p[0]


def _counter_grad(p: Array, t: int | None = None) -> Array:
    return _counter_slope(t) * namespace(p).ones_like(p)


AMSGRAD_COUNTER = TestFunction(
    name="amsgrad_counter",
    title="AMSGrad counterexample (Reddi et al., 2018)",
    formula="f_t(x) = 1010 x if t mod 101 == 1 else -10 x, x in [-1, 1]",
    value=_counter,
    grad=_counter_grad,
    box=((-1.0, 1.0),),
    start=(0.0,),
    minimum=(-1.0,),
    min_value=-_AVERAGE,
    constrained=True,
    online=True,
    period=_PERIOD,
    note="Adam drifts to +1 (the worst point); AMSGrad's max of v keeps it at -1.",
)


FUNCTIONS: dict[str, TestFunction] = {
    f.name: f for f in (SPHERE, ROSENBROCK, BEALE, SADDLE, ILL_CONDITIONED, AMSGRAD_COUNTER)
}


def get(name: str) -> TestFunction:
    """The test function registered as ``name`` (case-insensitive; ``-`` and ``_`` alike)."""
    key = name.strip().lower().replace("-", "_")
    try:
        return FUNCTIONS[key]
    except KeyError:
        raise ValueError(f"Unknown test function {name!r}; known: {', '.join(FUNCTIONS)}") from None


__all__ = ["FUNCTIONS", "TestFunction", "get", *(n.upper() for n in FUNCTIONS)]
