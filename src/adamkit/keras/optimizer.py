"""The base of every adamkit Keras optimizer: a ``keras.optimizers.Optimizer`` that executes a rule.

Keras's base class keeps every job it already does: the learning rate (a float, a
``LearningRateSchedule`` or a callable), gradient clipping (``clipnorm``, ``clipvalue``,
``global_clipnorm``), decoupled weight decay (``weight_decay``,
``exclude_from_weight_decay``), the moving average of the weights (``use_ema``,
``ema_momentum``, ``ema_overwrite_frequency``), gradient accumulation
(``gradient_accumulation_steps``) and loss scaling (``loss_scale_factor``). What is left
is the update itself, and that is the rule's:

* ``build`` asks the rule for a fresh state (``rule.init``) of a stand-in with the
  variable's shape and dtype (a NumPy view of one zero: TensorFlow builds the optimizer
  inside its traced function, where the variable has no value to read) and makes one
  Keras variable for each entry, named with torch's key (``dense_kernel_exp_avg``),
  initialised to the rule's value. Numbers such as ``step`` become scalar variables, so
  a saved model carries the whole state and training resumes exactly.
* ``update_step`` reads those variables as backend tensors, calls the rule's pure
  ``update`` on them (scalars included, as 0-d tensors: see :mod:`.tensors`) and
  assigns what it returns. Nothing is read back to the host, so the step compiles on
  every backend (``tf.function`` and XLA, ``jax.jit``, ``torch.compile``).

A subclass sets ``rule``, writes an ``__init__`` with Keras's argument names and
defaults that hands its own arguments to this class, and maps them to the rule's
hyperparameters in :meth:`RuleOptimizer.rule_hyper`. Where the rule puts the weight decay
somewhere Keras's base class cannot (LAMB's inside the trust ratio), the subclass's
:meth:`RuleOptimizer.decays_in_rule` hands ``weight_decay`` to the rule instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import keras
import numpy as np

from ..rules.spec import Rule, nonneg
from .tensors import as_dtype, outside_autograd, value_of

#: The rule's argument names (torch's) and the Keras names they appear under, for error messages.
KERAS_NAMES = {"lr": "learning_rate", "betas[0]": "beta_1", "betas[1]": "beta_2", "eps": "epsilon"}

#: ``convention``: whose variant of an algorithm's arithmetic to compute.
CONVENTIONS = ("keras", "torch")

#: A saved config's note on what loading it needs (Keras shows it when the class is missing).
LOADING_KEY = "to_load"
LOADING_HINT = "import adamkit.keras before keras.saving.load_model (pip install 'adamkit[keras]')"

#: Makes a class loadable by name (``"adamkit>Adam"``) from configs and saved models.
register = keras.saving.register_keras_serializable(package="adamkit")


class RuleOptimizer(keras.optimizers.Optimizer):
    """A ``keras.optimizers.Optimizer`` whose update is an :mod:`adamkit.rules` rule.

    Keras's own arguments (``weight_decay``, ``clipnorm``, ``clipvalue``,
    ``global_clipnorm``, ``use_ema``, ``ema_momentum``, ``ema_overwrite_frequency``,
    ``loss_scale_factor``, ``gradient_accumulation_steps``, ``name``) pass through
    ``**kwargs`` to ``keras.optimizers.Optimizer`` and mean what they mean there; in
    particular ``weight_decay`` is Keras's decoupled decay
    (:math:`\\theta \\leftarrow \\theta(1 - \\eta\\lambda)` before the update), never the
    rule's L2 term.

    The update traces: ``model.compile``'s defaults work on every backend, as do
    ``jit_compile=True`` and ``run_eagerly=True``.
    """

    rule: ClassVar[Rule]
    #: Extra rule-to-Keras names for error messages (RMSprop's ``alpha`` is Keras's ``rho``).
    renamed: ClassVar[Mapping[str, str]] = {}
    #: Whether torch's eager step may run the rule once over all variables (a
    #: :class:`~.tensor_list.TensorList`): set where tests show that computes the per-variable bits.
    multi_tensor: ClassVar[bool] = False

    def __init__(self, learning_rate: Any, arguments: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self._argument_names = tuple(arguments)
        for name, value in arguments.items():
            setattr(self, name, value)
        if "convention" in arguments and arguments["convention"] not in CONVENTIONS:
            raise ValueError(
                f"Invalid convention (convention): {arguments['convention']!r} (must be 'keras' or 'torch')"
            )
        if self.weight_decay is not None:
            nonneg("weight_decay", "weight decay")({"weight_decay": self.weight_decay})
        # A schedule's rates are checked as they come; a float is checked now, with the rest.
        lr = learning_rate if isinstance(learning_rate, float) else 0.0
        try:
            self.rule.validate(self.hyper(lr))
        except ValueError as error:
            raise ValueError(self._in_keras_terms(str(error))) from None

    def rule_hyper(self) -> dict[str, Any]:
        """The rule's hyperparameters (torch's names) for this optimizer's Keras arguments."""
        raise NotImplementedError

    def hyper(self, lr: float, weight_decay: float = 0.0) -> dict[str, Any]:
        """Everything the rule's update needs, for the learning rate ``lr`` of this step."""
        # Keras's base class has applied weight_decay (decoupled) before update_step, unless
        # decays_in_rule(): then the rule gets it.
        return {**self.rule.defaults, **self.rule_hyper(), "lr": lr, "weight_decay": weight_decay}

    def decays_in_rule(self) -> bool:
        """Whether the rule applies ``weight_decay`` (its own way) instead of Keras's base class."""
        return False

    def _apply_weight_decay(self, variables: list[Any]) -> None:
        if not self.decays_in_rule():
            super()._apply_weight_decay(variables)

    def _in_keras_terms(self, message: str) -> str:
        for rule_name, keras_name in {**KERAS_NAMES, **self.renamed}.items():
            message = message.replace(f"({rule_name})", f"({keras_name})")
        return message

    def build(self, variables: list[keras.Variable]) -> None:
        if self.built:
            return
        super().build(variables)
        hp = self.hyper(0.0)
        # torch's eager steps: the variables' groups, and the steps recorded (see _update_together)
        self._groupings: dict[tuple, Any] = {}
        self._programs: dict[tuple, Any] = {}
        # Variables that Keras overwrites with their gradient (float8 scales) need no state.
        self._rule_state = [
            None if self._overwrite_variable_with_gradient(v) else self._add_state(v, hp) for v in variables
        ]

    def _add_state(self, variable: keras.Variable, hp: Mapping[str, Any]) -> dict[str, keras.Variable]:
        """One Keras variable per entry of the rule's fresh state for ``variable``."""
        prefix = state_prefix(variable)
        dtype = compute_dtype(variable)
        # The rule's init sees the shape and dtype only: a read-only view of a single zero.
        stand_in = np.broadcast_to(np.zeros((), dtype), tuple(variable.shape))
        slots = {}
        for key, value in self.rule.init(stand_in, hp).items():
            if key in self.rule.scalar_state:
                start = keras.initializers.Constant(float(value))
                slots[key] = self.add_variable((), start, dtype, name=f"{prefix}_{key}")
                continue
            value = np.asarray(value)
            fill = value.reshape(-1)[:1]
            constant = bool(np.all(value == fill)) if value.size else True
            initializer = keras.initializers.Constant(float(fill[0]) if value.size else 0.0)
            if value.shape == tuple(variable.shape):
                slot = self.add_variable_from_reference(variable, name=key, initializer=initializer)
            else:
                slot = self.add_variable(
                    shape=value.shape, dtype=variable.dtype, initializer=initializer, name=f"{prefix}_{key}"
                )
            if not constant:
                slot.assign(value)
            slots[key] = slot
        return slots

    def _backend_update_step(self, grads: list[Any], variables: list[Any], learning_rate: Any) -> None:
        if not self._steps_together():
            super()._backend_update_step(grads, variables, learning_rate)
            return
        # The variables whose rule runs in one call: same dtype (the one the rule computes in,
        # as their state's) and the same weight decay. The others (float16 and bfloat16
        # variables, computed in float32) step one by one. The grouping is the same every step
        # for the same variables (Keras leaves out those without a gradient), so it is kept.
        key = (tuple(map(id, variables)), self.weight_decay)
        grouping = self._groupings.get(key)
        if grouping is None:
            grouping = self._group(variables)
            if len(self._groupings) >= 64:
                self._groupings.clear()
            self._groupings[key] = grouping
        alone, groups = grouping
        for i in alone:
            self.update_step(grads[i], variables[i], learning_rate)
        for (dtype, weight_decay, _), members in groups.items():
            group_grads, group_variables = [grads[i] for i in members], [variables[i] for i in members]
            self._update_together(group_grads, group_variables, learning_rate, dtype, weight_decay)

    def _group(self, variables: list[Any]) -> tuple[list[int], dict[tuple, list[int]]]:
        """``(alone, groups)``: the positions of the ``variables`` that step one by one, and of those
        that step together by (dtype, weight decay the rule applies, state keys)."""
        alone: list[int] = []
        groups: dict[tuple, list[int]] = {}
        for i, variable in enumerate(variables):
            index = self._get_variable_index(variable)
            dtype = compute_dtype(variable)
            slots = self._rule_state[index]
            if slots is None or keras.backend.standardize_dtype(variable.dtype) != dtype:
                alone.append(i)
            else:
                groups.setdefault((dtype, self._rule_weight_decay(index), tuple(slots)), []).append(i)
        return alone, groups

    def _steps_together(self) -> bool:
        """Whether this step runs the rule once over all variables (:mod:`.tensor_list`): torch's
        eager step (a compiled one fuses the per-variable steps itself), for a class whose
        ``multi_tensor`` says so and that keeps this class's step (a subclass that overrides
        ``update_step``, ``rule_step``, ``started`` or ``assign_step`` steps one variable at a time)."""
        if not self.multi_tensor or keras.backend.backend() != "torch":
            return False
        import torch
        from keras.src.backend.common.stateless_scope import in_stateless_scope

        own_step = all(
            getattr(type(self), hook) is getattr(RuleOptimizer, hook)
            for hook in ("update_step", "rule_step", "started", "assign_step")
        )
        # (in a StatelessScope, as stateless_apply opens, assignments are recorded, not written)
        return own_step and not torch.compiler.is_compiling() and not in_stateless_scope()

    def _update_together(
        self, grads: list[Any], variables: list[Any], learning_rate: Any, dtype: str, weight_decay: float
    ) -> None:
        """One call of the rule's update for all ``variables`` (torch tensors of ``dtype``) and the writes.

        The first step of a kind is recorded (:func:`~.tensor_list.record`) and later ones replay it:
        a kind is the variables, their dtype and weight decay, the hyperparameters but the learning
        rate, and which scalar states (the step) all variables share.
        """
        import torch

        from .tensor_list import TensorList, record, repeat_if_equal, write

        indices = tuple(self._get_variable_index(v) for v in variables)
        slots = [self._rule_state[i] for i in indices]
        state = {key: TensorList([s[key].value for s in slots]) for key in slots[0]}
        # A scalar (the step) that every variable shares is computed with once.
        given = {
            key: repeat_if_equal(value) if key in self.rule.scalar_state else value
            for key, value in state.items()
        }
        params = TensorList([v.value for v in variables])
        grad = TensorList([g.to(getattr(torch, dtype)) for g in grads])
        lr = TensorList.repeat(as_dtype(value_of(learning_rate), dtype), len(variables))
        hp = self.hyper(lr, weight_decay)  # type: ignore[arg-type]
        shared = tuple(key for key in state if given[key] is not state[key])
        inputs = [params, grad, lr, *state.values(), *(given[key] for key in shared)]
        kind = (indices, dtype, weight_decay, shared)
        kind += tuple(sorted((k, v) for k, v in hp.items() if k != "lr"))
        try:
            program = self._programs.get(kind)
        except TypeError:  # a hyperparameter that cannot be a key: this step runs the rule
            program, kind = None, None
        with torch.no_grad():
            if program is not None:
                program.run(inputs)
                return

            def step() -> None:
                new_param, new_state = self.rule.update(params, grad, given, hp)
                self._check_state_keys(new_state, slots[0])
                write([(new_param, params), *((value, state[key]) for key, value in new_state.items())])

            program = record(inputs, step)
        if kind is not None:
            if len(self._programs) >= 64:  # (kinds that keep changing: a hyperparameter set every step)
                self._programs.clear()
            self._programs[kind] = program

    def _rule_weight_decay(self, index: int) -> float:
        """The ``weight_decay`` the rule applies to variable ``index`` (0 unless ``decays_in_rule``)."""
        # (asked of the Keras variable: TensorFlow's optimizer passes update_step the raw tf.Variable)
        keras_variable = self._trainable_variables[index]
        if self.decays_in_rule() and self.weight_decay and self._use_weight_decay(keras_variable):
            return self.weight_decay
        return 0.0

    def _check_state_keys(self, new_state: Mapping[str, Any], slots: Mapping[str, Any]) -> None:
        unknown = set(new_state) - set(slots)
        if unknown:
            raise RuntimeError(
                f"rule {self.rule.name!r} returned state {sorted(unknown)} that its init did not create; "
                "the Keras front end makes every state variable at build time"
            )

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        _, _, new_param, new_state = self.rule_step(gradient, variable, learning_rate)
        self.assign_step(variable, new_param, new_state)

    def rule_step(self, gradient: Any, variable: Any, learning_rate: Any) -> tuple[Any, dict, Any, dict]:
        """``(param, state, new_param, new_state)``: the rule's update of ``variable``, as tensors."""
        index = self._get_variable_index(variable)
        slots = self._rule_state[index]
        # Rules compute in float32 at least (float64 for float64 variables), scalars included:
        # 0-d tensors, never Python numbers, so the step traces.
        dtype = compute_dtype(variable)
        state = {key: as_dtype(value_of(slot), dtype) for key, slot in slots.items()}
        hp = self.hyper(as_dtype(value_of(learning_rate), dtype), self._rule_weight_decay(index))
        grad = as_dtype(keras.ops.convert_to_tensor(gradient), dtype)
        param = as_dtype(value_of(variable), dtype)
        with outside_autograd():
            start, state, hp = self.started(param, state, hp)
            new_param, new_state = self.rule.update(start, grad, state, hp)
        self._check_state_keys(new_state, slots)
        return param, state, new_param, new_state

    def started(
        self, param: Any, state: dict[str, Any], hp: dict[str, Any]
    ) -> tuple[Any, dict[str, Any], dict[str, Any]]:
        """The parameter, state and hyperparameters the rule's update reads (a subclass completes a
        fresh state here); ``rule_step`` returns the stored parameter and the completed state."""
        return param, state, hp

    def assign_step(self, variable: Any, new_param: Any, new_state: Mapping[str, Any]) -> None:
        """Write a step's new value of ``variable`` and its new state."""
        slots = self._rule_state[self._get_variable_index(variable)]
        self.assign(variable, new_param)
        for key, value in new_state.items():
            self.assign(slots[key], value)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({name: getattr(self, name) for name in self._argument_names})
        # Keras prints the whole config when it cannot find the class (adamkit not imported):
        # this entry makes that error say what to do.
        config[LOADING_KEY] = LOADING_HINT
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> RuleOptimizer:
        config = {key: value for key, value in config.items() if key != LOADING_KEY}
        return super().from_config(config, custom_objects=custom_objects)


def state_prefix(variable: Any) -> str:
    """The start of the names of ``variable``'s state variables (``dense_kernel``)."""
    return str(getattr(variable, "path", variable.name)).replace("/", "_").replace(":", "_")


def compute_dtype(variable: Any) -> str:
    """The dtype the rule computes in for ``variable``: float64 for float64, else float32."""
    return "float64" if keras.backend.standardize_dtype(variable.dtype) == "float64" else "float32"
