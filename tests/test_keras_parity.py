"""adamkit.keras against keras.optimizers (the oracle), torch.optim and adamkit's NumPy rules.

* Inside ``model.fit``: every optimizer with a Keras counterpart, with Keras's own
  options (clipping, EMA, gradient accumulation, loss scaling, weight decay,
  schedules), ends 5 epochs with weights within 1e-4 (relative) of Keras's.
* Outside it, 100 steps on variables: float64 equal to Keras to 1e-12 (the arithmetic
  is the same); float32 as close to the exact (float64) result as float32 allows.
* ``convention="torch"`` equals torch.optim in float64; RAdam and SWATS, which Keras
  lacks, equal adamkit's NumPy optimizers.
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"  # before Keras is imported; the library never sets it

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import adamkit.keras as ak  # noqa: E402
import adamkit.numpy  # noqa: E402

if keras.backend.backend() != "torch":
    pytest.skip("these tests run Keras on the torch backend", allow_module_level=True)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ----------------------------------------------------------------------------- the problems

SHAPES = [(4, 3), (3,), (5,), (2, 2)]


def start_values(dtype: str) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def gradient(step: int, value: torch.Tensor, index: int) -> torch.Tensor:
    """Gradient of 0.5 p^2 + 0.05 p^4 plus noise fixed by the step: errors feed back into later steps."""
    noise = np.random.default_rng([step, index]).standard_normal(tuple(value.shape))
    return value + 0.2 * value**3 + 0.3 * torch.from_numpy(noise).to(value.dtype)


def keras_steps(optimizer: keras.optimizers.Optimizer, dtype: str, steps: int = 100, skip: bool = False):
    """Apply ``steps`` gradients to fresh variables (``skip``: the last lacks a gradient every 7th step)."""
    variables = [keras.Variable(v) for v in start_values(dtype)]
    for step in range(steps):
        grads = [gradient(step, v.value.detach(), i) for i, v in enumerate(variables)]
        if skip and step % 7 == 3:
            grads[-1] = None
        optimizer.apply(grads, variables)
    return [v.numpy() for v in variables]


def rel_diff(ours: list[np.ndarray], theirs: list[np.ndarray]) -> float:
    """The largest max|a - b| / max|b| over the arrays."""
    return max(float(np.abs(a - b).max() / np.abs(b).max()) for a, b in zip(ours, theirs, strict=True))


# ----------------------------------------------------------------------------- the cases

#: (adamkit.keras class, its keyword arguments, the keras.optimizers class with the same arguments)
KERAS_CASES = [
    ("Adam", {}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True}),
    ("Adam", {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3}),
    ("AdamW", {"learning_rate": 0.01}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("Adamax", {"learning_rate": 0.01}),
    ("Adamax", {"learning_rate": 0.01, "epsilon": 0.1}),
    ("Nadam", {"learning_rate": 0.01}),
    ("Nadam", {"learning_rate": 0.01, "beta_1": 0.8, "epsilon": 1e-3}),
    ("SGD", {}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    ("RMSprop", {}),
    ("RMSprop", {"learning_rate": 0.01, "epsilon": 0.01}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True, "epsilon": 0.01}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.9}),
    ("Adagrad", {"learning_rate": 0.1}),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.0, "epsilon": 0.01}),
    ("Adadelta", {"learning_rate": 1.0}),
    ("Adadelta", {"learning_rate": 1.0, "rho": 0.5, "epsilon": 1e-3}),
    ("Adam", {"learning_rate": 0.01, "weight_decay": 0.05}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "weight_decay": 0.05}),
]


def case_id(case) -> str:
    name, kwargs = case
    return name + "(" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ")"


def pair(name: str, kwargs: dict):
    return getattr(ak, name)(**kwargs), getattr(keras.optimizers, name)(**kwargs)


@pytest.mark.parametrize("case", KERAS_CASES, ids=case_id)
def test_float64_steps_equal_keras(case):
    """Same arithmetic: 100 float64 steps agree with Keras to rounding."""
    ours, theirs = pair(*case)
    assert rel_diff(keras_steps(ours, "float64"), keras_steps(theirs, "float64")) < 1e-12


@pytest.mark.parametrize("case", KERAS_CASES, ids=case_id)
def test_float32_steps_are_as_exact_as_keras(case):
    """In float32 we stay as close to the exact (float64) trajectory as Keras itself does."""
    ours, theirs = pair(*case)
    exact = keras_steps(pair(*case)[1], "float64")
    ours32, theirs32 = keras_steps(ours, "float32"), keras_steps(theirs, "float32")
    our_error, keras_error = rel_diff(ours32, exact), rel_diff(theirs32, exact)
    assert our_error <= max(1.5 * keras_error, 1e-5), (our_error, keras_error)
    assert rel_diff(ours32, theirs32) < 1e-4


def test_adam_float32_matches_keras_over_100_steps():
    """The issue's bar: adamkit.keras.Adam equals keras.optimizers.Adam to float32 precision.

    Keras's float32 Adam is itself about 1e-5 off the exact trajectory (it rounds beta_2 to
    float32 before taking 1 - beta_2**t); ours is within 1e-6 of it, and within 3e-5 of Keras.
    """
    exact = keras_steps(keras.optimizers.Adam(learning_rate=0.01), "float64")
    ours = keras_steps(ak.Adam(learning_rate=0.01), "float32")
    theirs = keras_steps(keras.optimizers.Adam(learning_rate=0.01), "float32")
    assert rel_diff(ours, exact) < 1e-6
    assert rel_diff(ours, theirs) < 3e-5


# ----------------------------------------------------------------------------- inside model.fit


def problem() -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Fixed data for a 8-16-3 regression MLP, and its fixed starting weights."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((256, 8)).astype("float32")
    y = np.tanh(x @ rng.standard_normal((8, 3))).astype("float32")
    weights = [0.5 * rng.standard_normal(s).astype("float32") for s in [(8, 16), (16,), (16, 3), (3,)]]
    return x, y, weights


def fit_weights(optimizer, epochs: int = 5) -> list[np.ndarray]:
    """The MLP trained with ``optimizer`` by model.fit (batches of 32 in order)."""
    x, y, weights = problem()
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(3)]
    )
    model.set_weights(weights)
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(x, y, epochs=epochs, batch_size=32, shuffle=False, verbose=0)
    return model.get_weights()


KERAS_OPTIONS = [
    {"clipnorm": 0.1},
    {"clipvalue": 0.01},
    {"global_clipnorm": 0.1},
    {"use_ema": True, "ema_momentum": 0.9},
    {"use_ema": True, "ema_momentum": 0.9, "ema_overwrite_frequency": 3},
    {"gradient_accumulation_steps": 3},
    {"loss_scale_factor": 128.0},
    {"weight_decay": 0.1},
]


@pytest.mark.parametrize("case", KERAS_CASES, ids=case_id)
def test_fit_matches_keras(case):
    """The acceptance bar: weights within 1e-4 of Keras's after 5 epochs of model.fit."""
    ours, theirs = pair(*case)
    assert rel_diff(fit_weights(ours), fit_weights(theirs)) < 1e-4


@pytest.mark.parametrize("options", KERAS_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("name", ["Adam", "SGD"])
def test_fit_with_keras_options_matches_keras(name, options):
    kwargs = {"learning_rate": 0.01, **options}
    if name == "SGD":
        kwargs["momentum"] = 0.9
    ours, theirs = pair(name, kwargs)
    assert rel_diff(fit_weights(ours), fit_weights(theirs)) < 1e-4


def test_fit_with_loss_scale_optimizer_and_weight_decay_exclusions_matches_keras():
    """Keras's wrappers and hooks around an optimizer work on ours as on theirs."""
    results = []
    for module in (ak, keras.optimizers):
        inner = module.AdamW(learning_rate=0.01, weight_decay=0.1)
        inner.exclude_from_weight_decay(var_names=["bias"])
        results.append(fit_weights(keras.optimizers.LossScaleOptimizer(inner, initial_scale=256.0)))
    ours, theirs = results
    assert rel_diff(ours, theirs) < 1e-4
    decayed_everywhere = fit_weights(ak.AdamW(learning_rate=0.01, weight_decay=0.1))
    assert rel_diff(decayed_everywhere, theirs) > 1e-4  # the exclusion mattered


def keras_schedules():
    s = keras.optimizers.schedules
    return {
        "exponential": lambda: s.ExponentialDecay(0.05, decay_steps=5, decay_rate=0.5),
        "cosine-warmup": lambda: s.CosineDecay(0.0, decay_steps=30, warmup_target=0.05, warmup_steps=10),
        "piecewise": lambda: s.PiecewiseConstantDecay([10, 20], [0.05, 0.01, 0.002]),
    }


@pytest.mark.parametrize("schedule", sorted(keras_schedules()))
@pytest.mark.parametrize("name", ["Adam", "SGD", "RMSprop"])
def test_fit_with_keras_schedule_matches_keras(name, schedule):
    """A changing rate: SGD's and RMSprop's momentum must hold steps (lr applied), as Keras's do."""
    make = keras_schedules()[schedule]
    kwargs = {"momentum": 0.9} if name in ("SGD", "RMSprop") else {}
    ours = getattr(ak, name)(learning_rate=make(), **kwargs)
    theirs = getattr(keras.optimizers, name)(learning_rate=make(), **kwargs)
    assert rel_diff(fit_weights(ours), fit_weights(theirs)) < 1e-4


# ----------------------------------------------------------------------------- convention="torch"

#: (adamkit.keras class, its kwargs with convention="torch", torch.optim class, its kwargs)
TORCH_CASES = [
    ("Adam", {"learning_rate": 0.01, "epsilon": 1e-3}, "Adam", {"lr": 0.01, "eps": 1e-3}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True}, "Adam", {"lr": 0.01, "eps": 1e-7, "amsgrad": True}),
    ("Adamax", {"learning_rate": 0.01, "epsilon": 0.1}, "Adamax", {"lr": 0.01, "eps": 0.1}),
    ("Nadam", {"learning_rate": 0.01}, "NAdam", {"lr": 0.01, "eps": 1e-7}),
    (
        "RMSprop",
        {"learning_rate": 0.01, "rho": 0.9, "epsilon": 0.01, "momentum": 0.5, "centered": True},
        "RMSprop",
        {"lr": 0.01, "alpha": 0.9, "eps": 0.01, "momentum": 0.5, "centered": True},
    ),
    (
        "Adagrad",
        {"learning_rate": 0.1, "initial_accumulator_value": 0.1, "epsilon": 0.01},
        "Adagrad",
        {"lr": 0.1, "initial_accumulator_value": 0.1, "eps": 0.01},
    ),
]


def torch_steps(optimizer_class, kwargs: dict, steps: int = 100) -> list[np.ndarray]:
    params = [torch.tensor(v, requires_grad=True) for v in start_values("float64")]
    optimizer = optimizer_class(params, **kwargs)
    for step in range(steps):
        for i, p in enumerate(params):
            p.grad = gradient(step, p.detach(), i)
        optimizer.step()
    return [p.detach().numpy() for p in params]


@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: c[0] + str(c[1]))
def test_torch_convention_equals_torch_optim(case, float64_default):
    name, kwargs, torch_name, torch_kwargs = case
    # Keras keeps its learning rate in float32: hand torch that same number.
    torch_kwargs = {**torch_kwargs, "lr": float(np.float32(torch_kwargs["lr"]))}
    ours = keras_steps(getattr(ak, name)(convention="torch", **kwargs), "float64")
    theirs = torch_steps(getattr(torch.optim, torch_name), torch_kwargs)
    assert rel_diff(ours, theirs) < 1e-10


def test_conventions_differ_where_keras_and_torch_differ():
    """The option is not a no-op: with a large epsilon the two Adam conventions part."""
    keras_form = keras_steps(ak.Adam(learning_rate=0.01, epsilon=0.1), "float64", steps=10)
    torch_form = keras_steps(
        ak.Adam(learning_rate=0.01, epsilon=0.1, convention="torch"), "float64", steps=10
    )
    assert rel_diff(keras_form, torch_form) > 1e-4


# ----------------------------------------------------------------------------- adamkit only

#: (adamkit.keras class and kwargs, adamkit.numpy class and kwargs): Keras has no such optimizer.
RULE_CASES = [
    ("RAdam", {"learning_rate": 0.01}, "RAdam", {"lr": 0.01, "eps": 1e-7}),
    (
        "RAdam",
        {"learning_rate": 0.01, "beta_2": 0.9, "epsilon": 1e-3},
        "RAdam",
        {"lr": 0.01, "betas": (0.9, 0.9), "eps": 1e-3},
    ),
    (
        "RAdam",
        {"learning_rate": 0.01, "weight_decay": 0.1},
        "RAdam",
        {"lr": 0.01, "eps": 1e-7, "weight_decay": 0.1, "decoupled_weight_decay": True},
    ),
    ("SWATS", {"learning_rate": 0.01}, "SWATS", {"lr": 0.01, "eps": 1e-7}),
    (
        "SWATS",
        {"learning_rate": 0.01, "switch_tol": 1e-3},
        "SWATS",
        {"lr": 0.01, "eps": 1e-7, "switch_tol": 1e-3},
    ),
]


def numpy_steps(optimizer_class, kwargs: dict, steps: int = 100) -> list[np.ndarray]:
    params = start_values("float64")
    optimizer = optimizer_class(params, **kwargs)
    for step in range(steps):
        grads = [gradient(step, torch.from_numpy(p), i).numpy() for i, p in enumerate(params)]
        if step % 7 == 3:
            grads[-1] = None
        optimizer.step(grads)
    return params


@pytest.mark.parametrize("case", RULE_CASES, ids=lambda c: c[0] + str(c[1]))
def test_adamkit_only_optimizers_equal_the_numpy_rule(case):
    """Float64, with a variable that misses its gradient every 7th step (its own step count)."""
    name, kwargs, numpy_name, numpy_kwargs = case
    numpy_kwargs = {**numpy_kwargs, "lr": float(np.float32(numpy_kwargs["lr"]))}
    ours = keras_steps(getattr(ak, name)(**kwargs), "float64", skip=True)
    theirs = numpy_steps(getattr(adamkit.numpy, numpy_name), numpy_kwargs)
    # Keras's base class (torch backend) computes the decay factor 1 - lr * wd in float32.
    tolerance = 1e-5 if "weight_decay" in kwargs else 1e-12
    assert rel_diff(ours, theirs) < tolerance


def test_swats_switches_in_these_runs():
    """The SWATS cases exercise the SGD phase too, not only Adam's."""
    optimizer = ak.SWATS(learning_rate=0.01, switch_tol=1e-3)
    keras_steps(optimizer, "float64", skip=True)
    assert any(slots["switched"].numpy() for slots in optimizer._rule_state)


def torch_fit_weights(make_optimizer, epochs: int = 5) -> list[np.ndarray]:
    """``fit_weights``'s model, data, batches and start, trained by a plain torch loop."""
    x, y, start = problem()
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    weights = [torch.from_numpy(w).requires_grad_() for w in start]
    optimizer = make_optimizer(weights)
    for _ in range(epochs):
        for first in range(0, len(x), 32):
            xb, yb = x[first : first + 32], y[first : first + 32]
            hidden = torch.tanh(xb @ weights[0] + weights[1])
            loss = torch.nn.functional.mse_loss(hidden @ weights[2] + weights[3], yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return [w.detach().numpy() for w in weights]


def test_radam_in_fit_matches_torch_optim():
    """Inside model.fit, RAdam trains as torch.optim.RAdam trains the same network (float32)."""
    lr = float(np.float32(0.01))
    ours = fit_weights(ak.RAdam(learning_rate=0.01, weight_decay=0.01))
    theirs = torch_fit_weights(
        lambda w: torch.optim.RAdam(w, lr=lr, eps=1e-7, weight_decay=0.01, decoupled_weight_decay=True)
    )
    assert rel_diff(ours, theirs) < 1e-4


def test_swats_in_fit_matches_adamkit_torch():
    """Inside model.fit, SWATS trains as adamkit.torch.SWATS (its torch front end) does, switch included."""
    import adamkit.torch

    optimizer = ak.SWATS(learning_rate=0.01, switch_tol=1e-3)
    ours = fit_weights(optimizer)
    theirs = torch_fit_weights(
        lambda w: adamkit.torch.SWATS(w, lr=float(np.float32(0.01)), eps=1e-7, switch_tol=1e-3)
    )
    assert any(slots["switched"].numpy() for slots in optimizer._rule_state)
    assert rel_diff(ours, theirs) < 1e-4
