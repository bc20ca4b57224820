r"""``ScheduleFreeAdamW`` with ``keras.optimizers.ScheduleFreeAdamW``'s arguments, and the average in
evaluation.

Schedule-Free training takes its gradients at a point :math:`y` between the fast iterate
:math:`z` and the average :math:`x`, and :math:`x` is the model to evaluate. Keras's own class
leaves the model at :math:`y`, so ``model.evaluate`` after ``model.fit`` scores the gradient point.
This one moves the model's variables to :math:`x` when ``fit`` ends, through the hook Keras calls
there (``finalize_variable_values``, the one that puts ``use_ema``'s average in place), so that
``evaluate``, ``predict`` and ``save`` after ``fit`` see the average. The next training step moves
them back to :math:`y`: it spends its batch on that (the gradient it gets was taken at
:math:`x`, and is not applied; the optimizer's own step count does not advance), so a ``fit``
that continues a previous one trains on one batch less. ``optimizer.train()`` before ``fit``
moves them back at once and loses nothing; ``optimizer.eval()`` moves them to :math:`x` by hand
(both as in ``schedulefree`` and :class:`adamkit.torch.ScheduleFreeAdamW`; each does nothing when
the variables are there already). The :class:`ScheduleFreeEval` callback does both around every
``fit`` and evaluation, validation inside ``fit`` included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from ..rules.schedulefree import SCHEDULE_FREE_ADAMW, to_eval, to_train
from ..rules.spec import choose
from .optimizer import RuleOptimizer, compute_dtype, register, state_prefix
from .tensors import as_dtype, outside_autograd, value_of

#: The per-variable flag, 1 while the variable holds the average x (saved with the model).
EVALUATING = "evaluating"


@register
class ScheduleFreeAdamW(RuleOptimizer):
    r"""Schedule-Free AdamW (Defazio et al., 2024), as ``keras.optimizers.ScheduleFreeAdamW``.

    Computes :mod:`adamkit.rules.schedulefree` (the ``schedulefree`` package's
    ``AdamWScheduleFree``, as ``adamkit.torch.ScheduleFreeAdamW``). The average weights iterate
    :math:`k` by :math:`(k+1)^r \eta_{\max}^{p}` (``r``, ``weight_lr_power``): with a constant
    rate that is Keras's uniform :math:`1/t` average; under ``warmup_steps`` or a schedule,
    ``weight_lr_power=0`` gives Keras's. With ``convention="keras"`` (the default)
    ``weight_decay`` is Keras's decoupled decay of :math:`y` before the step, as Keras's class;
    ``convention="torch"`` adds :math:`\lambda y` to the normalised gradient (it moves :math:`z`
    too), as schedulefree.

    After ``model.fit`` the model holds the average :math:`x` (see :mod:`adamkit.keras.schedulefree`
    for how and for :meth:`train` / :meth:`eval`). ``use_ema`` is refused: the average is the
    point of the method.

    Args:
        learning_rate: default 0.0025; use no decaying schedule.
        beta_1: the interpolation between :math:`z` and :math:`x`, in (0, 1).
        beta_2: the second moment's decay, in [0, 1).
        epsilon: added to the bias-corrected root, >= 0.
        warmup_steps: linear warm-up of the rate over this many steps, >= 0.
        r, weight_lr_power: the average's weights, as above (>= 0).
        convention: ``"keras"`` or ``"torch"``, as above.

    Variables: ``z``, ``exp_avg_sq``, the scalars ``step``, ``weight_sum``, ``lr_max`` and
    ``evaluating`` (1 while the variable holds :math:`x`).
    """

    rule = SCHEDULE_FREE_ADAMW

    def __init__(
        self,
        learning_rate: Any = 0.0025,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        warmup_steps: int = 0,
        r: float = 0.0,
        weight_lr_power: float = 2.0,
        convention: str = "keras",
        **kwargs: Any,
    ) -> None:
        if kwargs.get("use_ema"):
            raise ValueError(
                "Invalid use_ema (use_ema): True (ScheduleFreeAdamW evaluates its own average: must be False)"
            )
        arguments = dict(
            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, warmup_steps=warmup_steps, r=r,
            weight_lr_power=weight_lr_power, convention=convention,
        )
        super().__init__(learning_rate, arguments, **kwargs)

    def rule_hyper(self) -> dict[str, Any]:
        return {
            "betas": (self.beta_1, self.beta_2),
            "eps": self.epsilon,
            "warmup_steps": self.warmup_steps,
            "r": self.r,
            "weight_lr_power": self.weight_lr_power,
        }

    def decays_in_rule(self) -> bool:
        # always: the decay of Keras's convention must come after z takes its start (see started)
        return True

    def _add_state(self, variable: keras.Variable, hp: Any) -> dict[str, keras.Variable]:
        slots = super()._add_state(variable, hp)
        start = keras.initializers.Constant(0.0)
        name = f"{state_prefix(variable)}_{EVALUATING}"
        slots[EVALUATING] = self.add_variable((), start, compute_dtype(variable), name=name)
        return slots

    def started(
        self, param: Any, state: dict[str, Any], hp: dict[str, Any]
    ) -> tuple[Any, dict[str, Any], dict[str, Any]]:
        # z starts at the variable (the rule's init copies the parameter), read at the first step:
        # build had a stand-in without a value, and TensorFlow may build inside its traced step.
        fresh = state["step"] == 0
        state = {**state, "z": choose(fresh, lambda: param * 1.0, lambda: state["z"])}
        if self.convention == "keras" and hp["weight_decay"]:
            # Keras's decoupled decay of y before the step (its base class's, which z must not see)
            param = param * (1 - hp["lr"] * hp["weight_decay"])
            hp = {**hp, "weight_decay": 0.0}
        return param, state, hp

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        param, state, new_param, new_state = self.rule_step(gradient, variable, learning_rate)
        # A variable left at x (after fit, or eval()) first goes back to y; its gradient, taken at
        # x, is dropped and the state kept (a where in a traced step: both sides are computed).
        evaluating = state[EVALUATING] > 0.5
        new_param, new_state = choose(
            evaluating,
            lambda: (to_train(param, state["z"], self.beta_1), {key: state[key] for key in new_state}),
            lambda: (new_param, new_state),
        )
        new_state[EVALUATING] = state[EVALUATING] * 0.0
        self.assign_step(variable, new_param, new_state)

    def eval(self) -> None:
        """Move the model's variables to the average :math:`x` (for evaluating, predicting, saving)."""
        self._move(to_eval, evaluating=True)

    def train(self) -> None:
        """Move the model's variables back to the gradient point :math:`y` (before training)."""
        self._move(to_train, evaluating=False)

    def finalize_variable_values(self, var_list: list[keras.Variable]) -> None:
        # Keras calls this when fit ends (use_ema's hook): the trained model is the average.
        super().finalize_variable_values(var_list)
        self.eval()

    def _move(self, to: Callable[[Any, Any, float], Any], evaluating: bool) -> None:
        if not self.built:  # no step taken: x = y = z, nothing to move
            return
        for variable, slots in zip(self._trainable_variables, self._rule_state, strict=True):
            if slots is None or is_evaluating(slots) == evaluating or not has_stepped(slots):
                continue  # (before its first step a variable is x = y = z: nothing to move)
            dtype = compute_dtype(variable)
            z = as_dtype(value_of(slots["z"]), dtype)
            moved = to(as_dtype(value_of(variable), dtype), z, self.beta_1)
            with outside_autograd():
                variable.assign(as_dtype(moved, keras.backend.standardize_dtype(variable.dtype)))
                slots[EVALUATING].assign(1.0 if evaluating else 0.0)


def is_evaluating(slots: dict[str, keras.Variable]) -> bool:
    """Whether a variable holds the average x (its flag read on the host: eager only)."""
    return bool(np.asarray(keras.ops.convert_to_numpy(slots[EVALUATING].value)) > 0.5)


def has_stepped(slots: dict[str, keras.Variable]) -> bool:
    """Whether a variable's state has taken a step (``z`` is set from its first)."""
    return bool(np.asarray(keras.ops.convert_to_numpy(slots["step"].value)) > 0)


class ScheduleFreeEval(keras.callbacks.Callback):
    """Puts a :class:`ScheduleFreeAdamW` model at its average :math:`x` for every evaluation and at
    :math:`y` for training: ``model.fit(..., validation_data=..., callbacks=[ScheduleFreeEval()])``.

    Without it, validation inside ``fit`` scores the gradient point :math:`y` (as Keras's own
    class does), and a ``fit`` that continues a previous one spends its first batch moving the
    model back to :math:`y`. With it, ``fit`` starts at :math:`y` (``optimizer.train()``), each
    validation runs at :math:`x` and training resumes at :math:`y` after it, and the model holds
    :math:`x` when ``fit`` ends; ``model.evaluate(..., callbacks=[ScheduleFreeEval()])`` scores
    :math:`x` too. Like Keras's ``SwapEMAWeights`` it moves the variables in place.
    """

    def __init__(self) -> None:
        super().__init__()
        self._training = False

    def _optimizer(self) -> ScheduleFreeAdamW:
        optimizer = getattr(self.model, "optimizer", None)
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # under a LossScaleOptimizer
        if not isinstance(optimizer, ScheduleFreeAdamW):
            raise ValueError(
                f"Invalid optimizer (model.optimizer): {type(optimizer).__name__} (ScheduleFreeEval needs "
                "adamkit.keras.ScheduleFreeAdamW)"
            )
        return optimizer

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._training = True
        self._optimizer().train()

    def on_train_end(self, logs: dict | None = None) -> None:
        self._training = False
        self._optimizer().eval()  # (fit's end has done it already; for a fit stopped early too)

    def on_test_begin(self, logs: dict | None = None) -> None:
        self._optimizer().eval()

    def on_test_end(self, logs: dict | None = None) -> None:
        if self._training:  # validation inside fit: back to the gradient point
            self._optimizer().train()
