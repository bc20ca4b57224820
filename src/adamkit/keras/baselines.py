r"""``SGD``, ``RMSprop``, ``Adagrad`` and ``Adadelta`` as keras.optimizers compute them, on adamkit's rules.

Keras's arithmetic differs from torch.optim's in two places, each an option of the rule:

* RMSprop and Adagrad add :math:`\epsilon` *inside* the square root
  (``eps_in_sqrt``); ``convention="torch"`` adds it outside, as torch.optim.
* SGD's and RMSprop's momentum buffers accumulate steps, the learning rate already
  applied (``lr_in_momentum``): a new learning rate (a schedule) changes only the new
  contributions, where torch's buffers of gradients are rescaled whole. For a constant
  rate the two forms take the same steps.

Adadelta's arithmetic is the same in both; only the defaults differ (Keras: learning rate
0.001, rho 0.95, epsilon 1e-7). Keras's common arguments (``weight_decay``, ``clipnorm``,
... ``name``) pass through ``**kwargs``; see :class:`adamkit.keras.RuleOptimizer`.
"""

from __future__ import annotations

from typing import Any

from ..rules.adadelta import ADADELTA
from ..rules.adagrad import ADAGRAD
from ..rules.rmsprop import RMSPROP
from ..rules.sgd import SGD as SGD_RULE
from .optimizer import RuleOptimizer, register


@register
class SGD(RuleOptimizer):
    r"""Gradient descent with optional (Nesterov) momentum, as ``keras.optimizers.SGD``.

    .. math::
        b_t = \mu b_{t-1} + \eta g_t,\quad
        \theta_t = \theta_{t-1} - b_t
        \quad(\text{Nesterov: } \theta_t = \theta_{t-1} - \mu b_t - \eta g_t)

    with :math:`b_0 = 0`; without momentum :math:`\theta_t = \theta_{t-1} - \eta g_t`.
    (Keras stores :math:`-b`; adamkit keeps torch's sign.)

    Args:
        learning_rate: :math:`\eta`, default 0.01.
        momentum: :math:`\mu` in [0, 1].
        nesterov: Nesterov's look-ahead (needs momentum > 0).

    Variables: ``momentum_buffer`` (:math:`b`, only with momentum).
    """

    rule = SGD_RULE
    multi_tensor = True

    def __init__(
        self, learning_rate: Any = 0.01, momentum: float = 0.0, nesterov: bool = False, **kwargs: Any
    ) -> None:
        if not 0.0 <= float(momentum) <= 1.0:  # Keras's range (torch allows momentum > 1)
            raise ValueError(f"Invalid momentum value (momentum): {momentum} (must be in [0, 1])")
        super().__init__(learning_rate, dict(momentum=momentum, nesterov=nesterov), **kwargs)

    def rule_hyper(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov, "lr_in_momentum": True}


@register
class RMSprop(RuleOptimizer):
    r"""RMSprop (Hinton, 2012), optionally centered and with momentum, as ``keras.optimizers.RMSprop``.

    .. math::
        v_t = \rho v_{t-1} + (1-\rho) g_t^2,\quad
        s_t = \sqrt{v_t + \epsilon}\ \ (\text{centered: } \sqrt{v_t - \bar g_t^2 + \epsilon}),\quad
        \theta_t = \theta_{t-1} - \eta\, g_t / s_t

    with momentum :math:`\mu > 0`: :math:`b_t = \mu b_{t-1} + \eta g_t / s_t`,
    :math:`\theta_t = \theta_{t-1} - b_t`. ``convention="torch"`` computes
    torch.optim.RMSprop's :math:`s_t = \sqrt{v_t} + \epsilon` and
    :math:`b_t = \mu b_{t-1} + g_t / s_t`, :math:`\theta_t = \theta_{t-1} - \eta b_t`.

    Args:
        learning_rate: :math:`\eta`, default 0.001.
        rho: :math:`\rho`, the decay of the mean square (torch's ``alpha``), >= 0.
        momentum: :math:`\mu`, >= 0.
        epsilon: :math:`\epsilon`, >= 0.
        centered: divide by an estimate of the gradient's standard deviation (Graves, 2013).
        convention: ``"keras"`` or ``"torch"``.

    Variables: ``square_avg`` (:math:`v`), ``grad_avg`` (:math:`\bar g`, centered),
    ``momentum_buffer`` (:math:`b`, with momentum) and ``step``.
    """

    rule = RMSPROP
    multi_tensor = True
    renamed = {"alpha": "rho"}

    def __init__(
        self,
        learning_rate: Any = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        convention: str = "keras",
        **kwargs: Any,
    ) -> None:
        arguments = dict(
            rho=rho, momentum=momentum, epsilon=epsilon, centered=centered, convention=convention
        )
        super().__init__(learning_rate, arguments, **kwargs)

    def rule_hyper(self) -> dict[str, Any]:
        keras_form = self.convention == "keras"
        return {
            "alpha": self.rho,
            "momentum": self.momentum,
            "eps": self.epsilon,
            "centered": self.centered,
            "eps_in_sqrt": keras_form,
            "lr_in_momentum": keras_form,
        }


@register
class Adagrad(RuleOptimizer):
    r"""Adagrad (Duchi, Hazan and Singer, 2011), as ``keras.optimizers.Adagrad``.

    .. math::
        s_t = s_{t-1} + g_t^2,\ s_0 = \text{initial\_accumulator\_value},\quad
        \theta_t = \theta_{t-1} - \eta\,\frac{g_t}{\sqrt{s_t + \epsilon}}

    ``convention="torch"`` divides by :math:`\sqrt{s_t} + \epsilon`, as torch.optim.Adagrad.

    Args:
        learning_rate: :math:`\eta`, default 0.001.
        initial_accumulator_value: :math:`s_0`, >= 0 (Keras's default 0.1; torch's 0).
        epsilon: :math:`\epsilon`, >= 0.
        convention: ``"keras"`` or ``"torch"``.

    Variables: ``sum`` (:math:`s`) and ``step``.
    """

    rule = ADAGRAD
    multi_tensor = True

    def __init__(
        self,
        learning_rate: Any = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        convention: str = "keras",
        **kwargs: Any,
    ) -> None:
        arguments = dict(
            initial_accumulator_value=initial_accumulator_value, epsilon=epsilon, convention=convention
        )
        super().__init__(learning_rate, arguments, **kwargs)

    def rule_hyper(self) -> dict[str, Any]:
        return {
            "initial_accumulator_value": self.initial_accumulator_value,
            "eps": self.epsilon,
            "eps_in_sqrt": self.convention == "keras",
        }


@register
class Adadelta(RuleOptimizer):
    r"""Adadelta (Zeiler, 2012), as ``keras.optimizers.Adadelta`` (and torch.optim.Adadelta).

    .. math::
        v_t = \rho v_{t-1} + (1-\rho) g_t^2,\quad
        \Delta_t = \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t,\quad
        u_t = \rho u_{t-1} + (1-\rho) \Delta_t^2,\quad
        \theta_t = \theta_{t-1} - \eta\,\Delta_t

    Args:
        learning_rate: :math:`\eta`, default 0.001 (Keras's; torch's is 1.0, the paper has none).
        rho: :math:`\rho` in [0, 1].
        epsilon: :math:`\epsilon`, >= 0; it sets the size of the first steps.

    Variables: ``square_avg`` (:math:`v`), ``acc_delta`` (:math:`u`) and ``step``.
    """

    rule = ADADELTA
    multi_tensor = True

    def __init__(
        self, learning_rate: Any = 0.001, rho: float = 0.95, epsilon: float = 1e-7, **kwargs: Any
    ) -> None:
        super().__init__(learning_rate, dict(rho=rho, epsilon=epsilon), **kwargs)

    def rule_hyper(self) -> dict[str, Any]:
        return {"rho": self.rho, "eps": self.epsilon}
