r"""Adam (Kingma and Ba, 2015) with its switches, and AdamW as Adam with decoupled decay.

For each step :math:`t` with gradient :math:`g_t` (negated when ``maximize``):

.. math::

    g_t &\leftarrow g_t + \lambda\theta_{t-1}
        \quad\text{(L2 weight decay, or } \theta_{t-1} \leftarrow
        \theta_{t-1}(1 - \eta\lambda) \text{ when decoupled)}\\
    m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\
    v_t &= \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
    \hat v_t &= \max(\hat v_{t-1}, v_t) \text{ with AMSGrad (Reddi et al., 2018), else } v_t \\
    \theta_t &= \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,
        \frac{m_t}{\sqrt{\hat v_t / (1-\beta_2^t)} + \epsilon}

That is the paper's Algorithm 1 and torch.optim's convention: :math:`\epsilon` is added
to the bias-corrected root. With ``eps_hat=True`` it is added before the correction
(:math:`\eta\sqrt{1-\beta_2^t}/(1-\beta_1^t)\cdot m_t/(\sqrt{v_t}+\hat\epsilon)`, the
paper's Section 2 remark), which is what Keras and torch.optim.SparseAdam compute.

With ``cautious=True`` (Liang et al., 2024) the update :math:`u = m_t/(\sqrt{\hat v_t/(1-\beta_2^t)}
+ \epsilon)` is masked where it disagrees with the gradient the moments saw (signed, with its L2
term) and rescaled per tensor (:func:`~adamkit.rules.cautious.cautious`) before the step
:math:`\eta/(1-\beta_1^t)\cdot u`; decoupled decay is applied to every coordinate as usual.

Example:
    >>> import numpy as np
    >>> from adamkit.rules.adam import ADAM
    >>> hp = ADAM.hyper(lr=0.1)
    >>> p = np.array([1.0])
    >>> state = ADAM.init(p, hp)
    >>> p, state = ADAM.update(p, 2 * p, state, hp)   # gradient of p**2
    >>> round(float(p[0]), 6)   # the first step moves by lr, whatever the gradient's scale
    0.9
"""

from __future__ import annotations

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
    apply_weight_decay,
    is_number,
    lerp,
    namespace,
    one_minus_power,
    signed_grad,
    sqrt,
)

PAPER = "Kingma and Ba, 'Adam: A Method for Stochastic Optimization', ICLR 2015"


def init(param: Array, hp: Hyper) -> State:
    xp = namespace(param)
    state: State = {
        "step": 0.0,
        "exp_avg": xp.zeros_like(param),
        "exp_avg_sq": xp.zeros_like(param),
    }
    if hp["amsgrad"]:
        state["max_exp_avg_sq"] = xp.zeros_like(param)
    return state


def update(param: Array, grad: Array, state: State, hp: Hyper) -> tuple[Array, State]:
    xp = namespace(param)
    (beta1, beta2), eps = hp["betas"], hp["eps"]
    grad = signed_grad(grad, hp)
    param, grad = apply_weight_decay(param, grad, hp)

    step = state["step"] + 1
    exp_avg = lerp(state["exp_avg"], grad, 1 - beta1)
    exp_avg_sq = state["exp_avg_sq"] * beta2 + (1 - beta2) * (grad * grad)
    new_state: State = {"step": step, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}

    second = exp_avg_sq
    if hp["amsgrad"]:
        second = xp.maximum(state["max_exp_avg_sq"], exp_avg_sq)
        new_state["max_exp_avg_sq"] = second

    step_size, root_scale = step_scalars(hp, step)
    denom = xp.sqrt(second) / root_scale + eps
    direction = exp_avg / denom
    if hp.get("cautious", False):  # (.get: SWATS's Adam phase and older hyperparameter sets lack it)
        direction = cautious(direction, grad)
    return param - step_size * direction, new_state


def step_scalars(hp: Hyper, step: float) -> tuple[float, float]:
    """``(step_size, root_scale)`` of step ``step``: the update is
    ``param - step_size * m / (sqrt(v) / root_scale + eps)``.

    With torch's and the paper's epsilon, ``step_size = lr / (1 - beta1**t)`` and
    ``root_scale = sqrt(1 - beta2**t)``; with ``eps_hat`` the root's correction moves into
    the step size and ``root_scale`` is 1 (dividing by one is exact). Fused kernels call
    this too, so the bias corrections are written once.
    """
    lr, (beta1, beta2) = hp["lr"], hp["betas"]
    lr = float(lr) if is_number(lr) else lr  # a Keras backend tensor stays one (traced steps)
    bias_correction1 = one_minus_power(beta1, step)
    bias_correction2_sqrt = sqrt(one_minus_power(beta2, step))
    if hp.get("eps_hat", False):
        return lr * bias_correction2_sqrt / bias_correction1, 1.0
    return lr / bias_correction1, bias_correction2_sqrt


ADAM = Rule(
    name="adam",
    title="Adam",
    defaults={
        "lr": 1e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "amsgrad": False,
        "maximize": False,
        "decoupled_weight_decay": False,
        "cautious": False,
    },
    checks=(LR, EPS, BETA1, BETA2, WEIGHT_DECAY),
    init=init,
    update=update,
    paper=PAPER,
    # torch.optim.SparseAdam's update of the rows present adds eps before the bias correction
    sparse_hyper={"eps_hat": True},
)

#: AdamW (Loshchilov and Hutter, ICLR 2019) is Adam with decoupled weight decay.
ADAMW = ADAM.derive("adamw", "AdamW", weight_decay=1e-2, decoupled_weight_decay=True)
