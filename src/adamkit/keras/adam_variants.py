r"""``Adamax``, ``Nadam``, ``RAdam`` and ``SWATS`` with Keras's argument names, executing adamkit's rules.

``Adamax`` and ``Nadam`` compute what keras.optimizers' classes of the same name compute
(``convention="torch"`` selects torch.optim's variant). ``RAdam`` and ``SWATS`` have no
Keras counterpart: they compute :mod:`adamkit.rules.radam` and :mod:`adamkit.rules.swats`
exactly, with Keras's names for the arguments and Keras's Adam-family epsilon, 1e-7.
Keras's common arguments (``weight_decay``, ``clipnorm``, ... ``name``) pass through
``**kwargs``; see :class:`adamkit.keras.RuleOptimizer`.
"""

from __future__ import annotations

from typing import Any

from ..rules.adamax import ADAMAX
from ..rules.nadam import NADAM
from ..rules.radam import RADAM
from ..rules.swats import SWATS as SWATS_RULE
from .optimizer import RuleOptimizer, register


class _BetasEpsilon(RuleOptimizer):
    """An Adam relative: ``beta_1``, ``beta_2``, ``epsilon`` and its own extras."""

    def __init__(
        self, learning_rate: Any, beta_1: float, beta_2: float, epsilon: float, extra: dict, **kwargs: Any
    ) -> None:
        super().__init__(
            learning_rate, dict(beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, **extra), **kwargs
        )

    def rule_hyper(self) -> dict[str, Any]:
        return {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon}


@register
class Adamax(_BetasEpsilon):
    r"""Adamax (Kingma and Ba, 2015, Section 7.1), as ``keras.optimizers.Adamax``.

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad
        u_t = \max(\beta_2 u_{t-1}, |g_t|),\quad
        \theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,\frac{m_t}{u_t + \epsilon}

    ``convention="torch"`` puts :math:`\epsilon` inside the maximum instead,
    :math:`u_t = \max(\beta_2 u_{t-1}, |g_t| + \epsilon)` and :math:`m_t / u_t`, as
    torch.optim.Adamax. Variables: ``exp_avg``, ``exp_inf`` (:math:`u`), ``step``.
    """

    rule = ADAMAX
    multi_tensor = True

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        convention: str = "keras",
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, dict(convention=convention), **kwargs)

    def rule_hyper(self) -> dict[str, Any]:
        return {**super().rule_hyper(), "eps_after_max": self.convention == "keras"}


@register
class Nadam(_BetasEpsilon):
    r"""Nadam (Dozat, 2016), as ``keras.optimizers.Nadam``: Adam with Nesterov momentum.

    .. math::
        \mu_t = \beta_1\left(1 - \tfrac12\, 0.96^{t}\right),\quad
        \theta_t = \theta_{t-1}
            - \eta\,\frac{1-\mu_t}{1-\prod_{i\le t}\mu_i}\,\frac{g_t}{d_t}
            - \eta\,\frac{\mu_{t+1}}{1-\prod_{i\le t+1}\mu_i}\,\frac{m_t}{d_t},\quad
        d_t = \sqrt{v_t/(1-\beta_2^t)} + \epsilon

    Keras warms the momentum with :math:`0.96^t`, torch.optim with :math:`0.96^{0.004t}`
    (its ``momentum_decay``): ``convention="torch"`` selects torch's, which warms up 250
    times more slowly. Variables: ``exp_avg``, ``exp_avg_sq``, ``mu_product``
    (:math:`\prod\mu_i`, Keras's ``u_product``) and ``step``.
    """

    rule = NADAM
    multi_tensor = True

    #: The rule's momentum_decay :math:`\psi` in :math:`0.96^{t\psi}`: Keras's schedule is psi = 1.
    MOMENTUM_DECAY = {"keras": 1.0, "torch": 4e-3}

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        convention: str = "keras",
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, dict(convention=convention), **kwargs)

    def rule_hyper(self) -> dict[str, Any]:
        return {**super().rule_hyper(), "momentum_decay": self.MOMENTUM_DECAY[self.convention]}


@register
class RAdam(_BetasEpsilon):
    r"""RAdam (Liu et al., ICLR 2020): Adam with momentum steps until its adaptive rate's variance is bounded.

    No Keras counterpart; computes :mod:`adamkit.rules.radam` (torch.optim.RAdam's
    arithmetic): plain momentum steps while the approximated moving-average length
    :math:`\rho_t \le 5`, then the rectified Adam step
    :math:`\eta\, r_t \frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}\frac{m_t}{\sqrt{v_t}+\epsilon}`.
    ``weight_decay`` is Keras's decoupled decay, which makes it RAdamW.
    Variables: ``exp_avg``, ``exp_avg_sq``, ``step``.
    """

    rule = RADAM
    multi_tensor = True

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, {}, **kwargs)


@register
class SWATS(_BetasEpsilon):
    r"""SWATS (Keskar and Socher, 2017): Adam that switches to SGD with momentum, tensor by tensor.

    No Keras counterpart; computes :mod:`adamkit.rules.swats`: Adam (torch's epsilon
    convention) while it learns, from the projection of each step on the gradient, the
    SGD learning rate that would move as far; once that estimate settles to within
    ``switch_tol`` the variable continues as SGD with momentum :math:`\beta_1` at that
    rate (scaled by later changes of the learning rate, as from a schedule).

    Args:
        switch_tol: the switch criterion :math:`|\lambda_k/(1-\beta_2^k) - \gamma_k|`
            (absolute, in learning-rate units), >= 0; 0 never switches.
        Others as :class:`adamkit.keras.Adam`.

    Variables: ``exp_avg``, ``exp_avg_sq``, ``momentum_buffer`` and the scalars ``step``,
    ``lr_estimate``, ``switched``, ``switch_step``, ``sgd_lr``, ``lr_at_switch``.
    """

    rule = SWATS_RULE

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        switch_tol: float = 1e-5,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, dict(switch_tol=switch_tol), **kwargs)

    def rule_hyper(self) -> dict[str, Any]:
        return {**super().rule_hyper(), "switch_tol": self.switch_tol}
