r"""AdaBelief (Zhuang et al., "AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed
Gradients", NeurIPS 2020).

Adam divides by the root of the gradient's second moment; AdaBelief divides by the root of its
*variance around the prediction* :math:`m_t`: a gradient close to what the momentum expected
(high belief) gets a large step, a surprising one a small step. For each step :math:`t` with
gradient :math:`g_t` (negated when ``maximize``):

.. math::

    g_t &\leftarrow g_t + \lambda\theta_{t-1}
        \quad\text{(L2, or } \theta_{t-1} \leftarrow \theta_{t-1}(1 - \eta\lambda)
        \text{ when decoupled)}\\
    m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\
    s_t &= \beta_2 s_{t-1} + (1-\beta_2)(g_t - m_t)^2 + \epsilon \\
    \hat s_t &= \max(\hat s_{t-1}, s_t) \text{ with AMSGrad, else } s_t \\
    \theta_t &= \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,
        \frac{m_t}{\sqrt{\hat s_t / (1-\beta_2^t)} + \epsilon}

:math:`\epsilon` enters twice, as in the paper's Algorithm 2 and the authors' code: inside the
stored :math:`s_t` (so the variance never reaches zero) and after the root.

Hyperparameters (the authors' ``adabelief-pytorch`` names and defaults, without its RAdam-style
rectification): ``lr`` = 1e-3, ``betas`` = (0.9, 0.999), ``eps`` = 1e-16, ``weight_decay`` = 0,
``amsgrad`` = False, ``decoupled_weight_decay`` = False, ``maximize`` = False.
State keys: ``step``, ``exp_avg``, ``exp_avg_var`` and, with AMSGrad, ``max_exp_avg_var``.

Example:
    >>> import numpy as np
    >>> from adamkit.rules.adabelief import ADABELIEF
    >>> hp = ADABELIEF.hyper(lr=0.1)
    >>> p = np.array([1.0])
    >>> state = ADABELIEF.init(p, hp)
    >>> p, state = ADABELIEF.update(p, 2 * p, state, hp)   # gradient of p**2
    >>> round(float(p[0]), 6)   # (g - m)**2 = 0.81 g**2 on the first step: a step of lr / 0.9
    0.888889
"""

from __future__ import annotations

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
    apply_weight_decay,
    lerp,
    namespace,
    one_minus_power,
    signed_grad,
    sqrt,
)

PAPER = (
    "Zhuang et al., 'AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed Gradients', "
    "NeurIPS 2020"
)


def init(param: Array, hp: Hyper) -> State:
    xp = namespace(param)
    state: State = {"step": 0.0, "exp_avg": xp.zeros_like(param), "exp_avg_var": xp.zeros_like(param)}
    if hp["amsgrad"]:
        state["max_exp_avg_var"] = xp.zeros_like(param)
    return state


def update(param: Array, grad: Array, state: State, hp: Hyper) -> tuple[Array, State]:
    xp = namespace(param)
    lr, (beta1, beta2), eps = hp["lr"], hp["betas"], hp["eps"]
    grad = signed_grad(grad, hp)
    param, grad = apply_weight_decay(param, grad, hp)

    step = state["step"] + 1
    exp_avg = lerp(state["exp_avg"], grad, 1 - beta1)
    residual = grad - exp_avg
    exp_avg_var = state["exp_avg_var"] * beta2 + (1 - beta2) * (residual * residual) + eps
    new_state: State = {"step": step, "exp_avg": exp_avg, "exp_avg_var": exp_avg_var}
    second = exp_avg_var
    if hp["amsgrad"]:
        second = xp.maximum(state["max_exp_avg_var"], exp_avg_var)
        new_state["max_exp_avg_var"] = second
    denom = xp.sqrt(second) / sqrt(one_minus_power(beta2, step)) + eps
    return param - (lr / one_minus_power(beta1, step)) * (exp_avg / denom), new_state


ADABELIEF = Rule(
    name="adabelief",
    title="AdaBelief",
    defaults={
        "lr": 1e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-16,
        "weight_decay": 0.0,
        "amsgrad": False,
        "decoupled_weight_decay": False,
        "maximize": False,
    },
    checks=(LR, EPS, BETA1, BETA2, WEIGHT_DECAY),
    init=init,
    update=update,
    paper=PAPER,
)
