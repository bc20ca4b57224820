r"""``Adam`` and ``AdamW`` with keras.optimizers' arguments, executing :mod:`adamkit.rules.adam`."""

from __future__ import annotations

from typing import Any

from ..rules.adam import ADAM, ADAMW
from .optimizer import RuleOptimizer, register


@register
class Adam(RuleOptimizer):
    r"""Adam (Kingma and Ba, 2015) with ``keras.optimizers.Adam``'s arguments and arithmetic.

    With ``convention="keras"`` (the default) :math:`\hat\epsilon` is added before the
    bias correction of the denominator, as Keras computes it (the paper's remark before
    its Section 2.1):

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\quad
        \theta_t = \theta_{t-1} - \eta\,\frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}\,
            \frac{m_t}{\sqrt{v_t} + \hat\epsilon}

    ``convention="torch"`` adds :math:`\epsilon` to the bias-corrected root instead, the
    paper's Algorithm 1 and torch.optim's form:
    :math:`\theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\frac{m_t}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon}`.
    The two differ only while :math:`\sqrt{v_t}` is comparable to :math:`\epsilon`.

    Args:
        learning_rate: :math:`\eta`: a float, a ``keras.optimizers.schedules.LearningRateSchedule``
            (:class:`adamkit.keras.ScheduledRate` brings adamkit's schedules), or a callable
            taking no argument.
        beta_1, beta_2: decay rates of the two moments, each in [0, 1).
        epsilon: :math:`\hat\epsilon` (or :math:`\epsilon` with ``convention="torch"``), >= 0.
        amsgrad: divide by the running maximum of :math:`v_t` (Reddi et al., 2018).
        convention: ``"keras"`` or ``"torch"``, as above.
        **kwargs: Keras's common optimizer arguments (``weight_decay``, ``clipnorm``,
            ``clipvalue``, ``global_clipnorm``, ``use_ema``, ``ema_momentum``,
            ``ema_overwrite_frequency``, ``loss_scale_factor``,
            ``gradient_accumulation_steps``, ``name``).

    Variables per model variable: ``exp_avg`` (:math:`m`), ``exp_avg_sq`` (:math:`v`),
    ``max_exp_avg_sq`` (AMSGrad) and ``step``.

    Example::

        import keras, adamkit.keras
        model = keras.Sequential([keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer=adamkit.keras.Adam(learning_rate=0.001),
                      loss="categorical_crossentropy", metrics=["accuracy"])
    """

    rule = ADAM
    multi_tensor = True

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        convention: str = "keras",
        **kwargs: Any,
    ) -> None:
        arguments = dict(
            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad, convention=convention
        )
        super().__init__(learning_rate, arguments, **kwargs)

    def rule_hyper(self) -> dict[str, Any]:
        return {
            "betas": (self.beta_1, self.beta_2),
            "eps": self.epsilon,
            "amsgrad": self.amsgrad,
            "eps_hat": self.convention == "keras",
        }


@register
class AdamW(Adam):
    r"""AdamW (Loshchilov and Hutter, ICLR 2019): :class:`Adam` with decoupled weight decay.

    As ``keras.optimizers.AdamW``: Keras's base class shrinks each variable by
    :math:`1 - \eta\lambda` before the Adam update; ``weight_decay`` (:math:`\lambda`,
    default 0.004) must be a number. Variables excluded with
    ``exclude_from_weight_decay`` are not decayed. Other arguments as :class:`Adam`.
    """

    rule = ADAMW

    def __init__(
        self,
        learning_rate: Any = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        convention: str = "keras",
        **kwargs: Any,
    ) -> None:
        if weight_decay is None:
            raise ValueError("Invalid weight decay (weight_decay): None (AdamW needs a number >= 0)")
        super().__init__(
            learning_rate, beta_1, beta_2, epsilon, amsgrad, convention, weight_decay=weight_decay, **kwargs
        )
