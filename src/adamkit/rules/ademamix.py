r"""AdEMAMix (Pagliardini, Ablin and Grangier, "The AdEMAMix Optimizer: Better, Faster, Older", 2024).

Adam's fast moment forgets old gradients within ~10 steps; AdEMAMix adds a *slow* moment
(:math:`\beta_3 = 0.9999`, a memory of ~10,000 steps) to the numerator, weighted by
:math:`\alpha`. For each step :math:`t` with gradient :math:`g_t` (negated when ``maximize``):

.. math::

    m^{(1)}_t &= \beta_1 m^{(1)}_{t-1} + (1-\beta_1) g_t \\
    m^{(2)}_t &= \beta_3(t)\, m^{(2)}_{t-1} + (1-\beta_3(t)) g_t \\
    v_t &= \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
    \theta_t &= \theta_{t-1} - \eta\left(
        \frac{m^{(1)}_t/(1-\beta_1^t) + \alpha(t)\, m^{(2)}_t}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon}
        + \lambda\theta_{t-1}\right)

The slow moment is not bias-corrected (the paper's Algorithm 1). Its warm-ups, which keep the
early steps stable: with ``t_alpha`` set, :math:`\alpha(t) = \min(t\alpha/T_\alpha, \alpha)`; with
``t_beta3`` set, :math:`\beta_3(t)` rises from :math:`\beta_1` to :math:`\beta_3` so that the
moment's half-life grows linearly,
:math:`\beta_3(t) = \min\left(\exp\frac{\ln\beta_1 \ln\beta_3}
{(1-t/T)\ln\beta_3 + (t/T)\ln\beta_1}, \beta_3\right)`. ``None`` (the default) means no warm-up.

``cautious=True`` masks the numerator with :func:`~adamkit.rules.cautious.cautious` (the sign of
the update is the numerator's).

Hyperparameters (the paper's defaults): ``lr`` = 1e-3, ``betas`` = (0.9, 0.999, 0.9999),
``alpha`` = 5.0, ``eps`` = 1e-8, ``weight_decay`` = 0.01 (decoupled), ``t_alpha`` = ``t_beta3`` =
None, ``maximize`` = False, ``cautious`` = False. State keys: ``step``, ``exp_avg``
(:math:`m^{(1)}`), ``exp_avg_sq`` (:math:`v`), ``exp_avg_slow`` (:math:`m^{(2)}`).

Example:
    >>> import numpy as np
    >>> from adamkit.rules.ademamix import ADEMAMIX
    >>> hp = ADEMAMIX.hyper(lr=0.1, weight_decay=0.0)
    >>> p = np.array([1.0])
    >>> state = ADEMAMIX.init(p, hp)
    >>> p, state = ADEMAMIX.update(p, 2 * p, state, hp)   # gradient of p**2
    >>> round(1 - float(p[0]), 8)   # lr * (m_hat + alpha * m2) / sqrt(v_hat) = 0.1 * (2 + 5 * 0.0002) / 2
    0.10005
"""

from __future__ import annotations

import math

from .cautious import cautious
from .spec import (
    BETA1,
    BETA2,
    EPS,
    LR,
    WEIGHT_DECAY,
    Array,
    Hyper,
    Rule,
    State,
    is_number,
    lerp,
    minimum,
    namespace,
    nonneg,
    one_minus_power,
    signed_grad,
    sqrt,
    unit_open,
)

PAPER = "Pagliardini, Ablin and Grangier, 'The AdEMAMix Optimizer: Better, Faster, Older', ICLR 2025"


def init(param: Array, hp: Hyper) -> State:
    xp = namespace(param)
    return {
        "step": 0.0,
        "exp_avg": xp.zeros_like(param),
        "exp_avg_sq": xp.zeros_like(param),
        "exp_avg_slow": xp.zeros_like(param),
    }


def alpha_at(hp: Hyper, step: float) -> float:
    """The slow moment's weight at ``step``: linear warm-up over ``t_alpha`` steps, if set."""
    alpha, warmup = hp["alpha"], hp["t_alpha"]
    return alpha if warmup is None else minimum(step * alpha / warmup, alpha)


def beta3_at(hp: Hyper, step: float) -> float:
    """The slow moment's decay at ``step``: from beta1 to beta3 over ``t_beta3`` steps, if set."""
    beta1, _, beta3 = hp["betas"]
    warmup = hp["t_beta3"]
    if warmup is None:
        return beta3
    log1, log3 = math.log(beta1), math.log(beta3)
    frac = step / warmup
    exponent = log1 * log3 / ((1 - frac) * log3 + frac * log1)
    # a number for the torch and NumPy front ends, a 0-d tensor in a traced Keras step
    return minimum(math.exp(exponent) if is_number(exponent) else namespace(exponent).exp(exponent), beta3)


def update(param: Array, grad: Array, state: State, hp: Hyper) -> tuple[Array, State]:
    xp = namespace(param)
    lr, (beta1, beta2, _), eps, wd = hp["lr"], hp["betas"], hp["eps"], hp["weight_decay"]
    grad = signed_grad(grad, hp)
    step = state["step"] + 1
    exp_avg = lerp(state["exp_avg"], grad, 1 - beta1)
    exp_avg_sq = state["exp_avg_sq"] * beta2 + (1 - beta2) * (grad * grad)
    exp_avg_slow = lerp(state["exp_avg_slow"], grad, 1 - beta3_at(hp, step))
    numerator = exp_avg / one_minus_power(beta1, step) + alpha_at(hp, step) * exp_avg_slow
    if hp["cautious"]:
        numerator = cautious(numerator, grad)
    denom = xp.sqrt(exp_avg_sq) / sqrt(one_minus_power(beta2, step)) + eps
    new_param = param - lr * (numerator / denom)
    if wd != 0:  # decoupled, at the old parameter (the paper's lr * (update + wd * theta))
        new_param = new_param - (lr * wd) * param
    new_state = {"step": step, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq, "exp_avg_slow": exp_avg_slow}
    return new_param, new_state


def _check_warmups(hp: Hyper) -> None:
    for name in ("t_alpha", "t_beta3"):
        value = hp.get(name)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if value is not None and not (number and value > 0):
            raise ValueError(f"Invalid warm-up length ({name}): {value!r} (must be None or a number > 0)")
    if hp.get("t_beta3") is not None and hp["betas"][0] == 0:
        raise ValueError(
            "Invalid beta parameter at index 0: 0.0 (t_beta3's warm-up starts at beta1: must be > 0)"
        )


ADEMAMIX = Rule(
    name="ademamix",
    title="AdEMAMix",
    defaults={
        "lr": 1e-3,
        "betas": (0.9, 0.999, 0.9999),
        "alpha": 5.0,
        "eps": 1e-8,
        "weight_decay": 0.01,
        "t_alpha": None,
        "t_beta3": None,
        "maximize": False,
        "cautious": False,
    },
    checks=(LR, EPS, BETA1, BETA2, unit_open("betas", 2, "beta parameter at index 2"), WEIGHT_DECAY,
            nonneg("alpha", "alpha value")),
    init=init,
    update=update,
    paper=PAPER,
    extra_checks=(_check_warmups,),
)
