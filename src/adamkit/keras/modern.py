r"""The modern family with Keras's argument names: ``Lion``, ``AdEMAMix``, ``AdaBelief``, ``Lamb`` and
``Adafactor``, executing :mod:`adamkit.rules` (``ScheduleFreeAdamW`` is in :mod:`.schedulefree`).

``Lion``, ``Lamb`` and ``Adafactor`` take ``keras.optimizers``' arguments and defaults and compute
what Keras's classes of the same name compute (``Adafactor``'s ``epsilon_1`` aside: see there).
``AdEMAMix`` and ``AdaBelief`` have no Keras counterpart: they compute adamkit's rule, as
:mod:`adamkit.torch` does, with Keras's names for the arguments. ``weight_decay`` is Keras's
decoupled decay everywhere (:math:`\theta \leftarrow \theta(1 - \eta\lambda)` before the update:
for Lion and AdEMAMix that is the papers' decay); ``convention="torch"`` hands it to the rule
instead where Keras's placement differs from :mod:`adamkit.torch`'s (LAMB's trust ratio,
Adafactor's relative step). Keras's common arguments (``clipnorm``, ``use_ema``, ... ``name``)
pass through ``**kwargs``; see :class:`adamkit.keras.RuleOptimizer`.
"""

from __future__ import annotations

from typing import Any

from ..rules.adabelief import ADABELIEF
from ..rules.adafactor import ADAFACTOR
from ..rules.ademamix import ADEMAMIX
from ..rules.lamb import LAMB
from ..rules.lion import LION
from .optimizer import RuleOptimizer, register


@register
class Lion(RuleOptimizer):
    r"""Lion (Chen et al., 2023), as ``keras.optimizers.Lion``: a sign update of fixed size.

    .. math::
        \theta_t = \theta_{t-1} - \eta\,\operatorname{sign}(\beta_1 m_{t-1} + (1-\beta_1) g_t),\quad
        m_t = \beta_2 m_{t-1} + (1-\beta_2) g_t

    Args:
        learning_rate: :math:`\eta`, default 0.001 (Keras's; the paper advises 3-10x less than AdamW's).
        beta_1: the interpolation of the sign's argument, in [0, 1].
        beta_2: the momentum's decay, in [0, 1].
        cautious: zero the coordinates whose update disagrees with the gradient's sign and rescale
            the rest (Liang et al., 2024; :mod:`adamkit.rules.cautious`). Not in Keras.

    Variables: ``exp_avg`` (:math:`m`) and ``step``.
    """

    rule = LION
    multi_tensor = True

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.99,
        cautious: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, dict(beta_1=beta_1, beta_2=beta_2, cautious=cautious), **kwargs)
        self.multi_tensor = not cautious  # the cautious rescale is a sum over each tensor

    def rule_hyper(self) -> dict[str, Any]:
        return {"betas": (self.beta_1, self.beta_2), "cautious": self.cautious}


@register
class AdEMAMix(RuleOptimizer):
    r"""AdEMAMix (Pagliardini et al., 2024): Adam plus a slow, un-corrected moment in the numerator.

    No Keras counterpart; computes :mod:`adamkit.rules.ademamix` (as ``adamkit.torch.AdEMAMix``):

    .. math::
        \theta_t = \theta_{t-1} - \eta\,\frac{\hat m^{(1)}_t + \alpha\, m^{(2)}_t}{\sqrt{\hat v_t} + \epsilon}

    with :math:`m^{(2)}` an EMA of decay :math:`\beta_3`. ``weight_decay`` (default 0.01, the
    paper's) is Keras's decoupled decay, which is the paper's :math:`\eta\lambda\theta_{t-1}`.

    Args:
        beta_1, beta_2, beta_3: the decays of the fast moment, the second moment and the slow
            moment, each in [0, 1).
        alpha: the slow moment's weight, >= 0.
        epsilon: added to the bias-corrected root, >= 0 (default 1e-8, the paper's).
        t_alpha, t_beta3: warm-up lengths of :math:`\alpha` and :math:`\beta_3` (None: none).
        cautious: as :class:`Lion`.

    Variables: ``exp_avg``, ``exp_avg_sq``, ``exp_avg_slow`` and ``step``.
    """

    rule = ADEMAMIX
    multi_tensor = True
    renamed = {"betas[2]": "beta_3"}

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        beta_3: float = 0.9999,
        alpha: float = 5.0,
        epsilon: float = 1e-8,
        t_alpha: float | None = None,
        t_beta3: float | None = None,
        cautious: bool = False,
        weight_decay: float | None = 0.01,
        **kwargs: Any,
    ) -> None:
        arguments = dict(
            beta_1=beta_1, beta_2=beta_2, beta_3=beta_3, alpha=alpha, epsilon=epsilon,
            t_alpha=t_alpha, t_beta3=t_beta3, cautious=cautious,
        )
        super().__init__(learning_rate, arguments, weight_decay=weight_decay, **kwargs)
        self.multi_tensor = not cautious  # the cautious rescale is a sum over each tensor

    def rule_hyper(self) -> dict[str, Any]:
        return {
            "betas": (self.beta_1, self.beta_2, self.beta_3),
            "alpha": self.alpha,
            "eps": self.epsilon,
            "t_alpha": self.t_alpha,
            "t_beta3": self.t_beta3,
            "cautious": self.cautious,
        }


@register
class AdaBelief(RuleOptimizer):
    r"""AdaBelief (Zhuang et al., 2020): Adam dividing by the gradient's spread around its EMA.

    No Keras counterpart; computes :mod:`adamkit.rules.adabelief` (as ``adamkit.torch.AdaBelief``):

    .. math::
        s_t = \beta_2 s_{t-1} + (1-\beta_2)(g_t - m_t)^2 + \epsilon,\quad
        \theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,\frac{m_t}{\sqrt{s_t/(1-\beta_2^t)} + \epsilon}

    ``weight_decay`` is Keras's decoupled decay: ``adamkit.torch.AdaBelief``'s
    ``decoupled_weight_decay=True`` (the authors' ``weight_decouple``).

    Args:
        epsilon: default 1e-16 (the authors'), >= 0.
        amsgrad: divide by the running maximum of :math:`s_t`.
        Others as :class:`adamkit.keras.Adam`.

    Variables: ``exp_avg``, ``exp_avg_var``, ``max_exp_avg_var`` (AMSGrad) and ``step``.
    """

    rule = ADABELIEF
    multi_tensor = True

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-16,
        amsgrad: bool = False,
        **kwargs: Any,
    ) -> None:
        arguments = dict(beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad)
        super().__init__(learning_rate, arguments, **kwargs)

    def rule_hyper(self) -> dict[str, Any]:
        return {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon, "amsgrad": self.amsgrad}


@register
class Lamb(RuleOptimizer):
    r"""LAMB (You et al., 2020), as ``keras.optimizers.Lamb``: Adam's step rescaled per tensor.

    .. math::
        r_t = \frac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon},\quad
        \theta_t = \theta_{t-1} - \eta\,\frac{\lVert\theta_{t-1}\rVert}{\lVert r_t\rVert}\, r_t

    (the ratio is 1 when either norm is zero). With ``convention="keras"`` (the default)
    ``weight_decay`` is Keras's decoupled decay, applied before the step and outside the trust
    ratio, as Keras does; ``convention="torch"`` computes ``adamkit.torch.LAMB`` (optax.lamb, the
    paper): :math:`\lambda\theta_{t-1}` is added to :math:`r_t` inside the ratio. Without weight
    decay the two are the same.

    Args:
        epsilon: default 1e-7 (Keras's; adamkit.torch.LAMB's is 1e-6), >= 0.
        Others as :class:`adamkit.keras.Adam`.

    Variables: ``exp_avg``, ``exp_avg_sq`` and ``step``.
    """

    rule = LAMB

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        convention: str = "keras",
        **kwargs: Any,
    ) -> None:
        arguments = dict(beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, convention=convention)
        super().__init__(learning_rate, arguments, **kwargs)

    def rule_hyper(self) -> dict[str, Any]:
        return {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon}

    def decays_in_rule(self) -> bool:
        return self.convention == "torch"


@register
class Adafactor(RuleOptimizer):
    r"""Adafactor (Shazeer and Stern, 2018), as ``keras.optimizers.Adafactor`` computes it.

    The second moment of a matrix (of the last two dimensions of a larger tensor) is kept as a
    row and a column average; the step is relative to the variable's RMS and capped by
    :math:`1/\sqrt t`; the update's RMS is clipped at ``clip_threshold``
    (:mod:`adamkit.rules.adafactor`, torch.optim.Adafactor's arithmetic, which is Keras's):

    .. math::
        \alpha_t = \max(\epsilon_2, \mathrm{RMS}(\theta_{t-1}))\min(\eta, 1/\sqrt t),\quad
        U_t = G_t/\sqrt{\hat V_t},\quad
        \theta_t = \theta_{t-1} - \frac{\alpha_t}{\max(1, \mathrm{RMS}(U_t)/d)}\,U_t

    One definitional difference: Keras adds ``epsilon_1`` to :math:`G^2`, adamkit (torch's
    form) floors :math:`\hat V` at :math:`\epsilon_1^2` and the row average at
    :math:`\epsilon_1`; with Keras's default 1e-30 neither changes a float32 step whose
    gradients exceed about 1e-15. ``epsilon_1=None`` is torch's default, the dtype's machine
    epsilon. Unlike Keras's class, which also stores a full-size :math:`\hat V`, the state is
    sublinear, as the paper's. ``relative_step`` is kept for Keras's configs: Keras 3 caps the
    rate by :math:`1/\sqrt t` either way, and so does this class. ``weight_decay`` is Keras's
    decoupled decay before the step (the RMS is then the decayed variable's);
    ``convention="torch"`` takes the RMS first, as ``adamkit.torch.Adafactor``.

    Args:
        learning_rate: :math:`\eta`, default 0.001 (Keras's; torch's is 0.01).
        beta_2_decay: :math:`c \le 0` in :math:`\hat\beta_{2,t} = 1 - t^c`.
        epsilon_1, epsilon_2: as above; epsilon_2 floors the variable's RMS.
        clip_threshold: :math:`d \ge 1`.

    Variables: ``row_var`` and ``col_var`` (tensors of two or more dimensions), ``variance``
    (vectors and scalars) and ``step``.
    """

    rule = ADAFACTOR
    renamed = {
        "eps[0]": "epsilon_1", "eps[1]": "epsilon_2", "eps": "epsilon_1, epsilon_2",
        "d": "clip_threshold", "beta2_decay": "beta_2_decay",
    }

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_2_decay: float = -0.8,
        epsilon_1: float | None = 1e-30,
        epsilon_2: float = 1e-3,
        clip_threshold: float = 1.0,
        relative_step: bool = True,
        convention: str = "keras",
        **kwargs: Any,
    ) -> None:
        arguments = dict(
            beta_2_decay=beta_2_decay, epsilon_1=epsilon_1, epsilon_2=epsilon_2,
            clip_threshold=clip_threshold, relative_step=relative_step, convention=convention,
        )
        super().__init__(learning_rate, arguments, **kwargs)

    def rule_hyper(self) -> dict[str, Any]:
        return {
            "beta2_decay": self.beta_2_decay,
            "eps": (self.epsilon_1, self.epsilon_2),
            "d": self.clip_threshold,
        }

    def decays_in_rule(self) -> bool:
        return self.convention == "torch"
