"""adamkit.keras's modern family against keras.optimizers (the oracle) and adamkit.torch (the rules'
other front end).

* 50 steps on fixed gradients, float32, within 1e-5 (relative): Lion, Lamb, Adafactor and
  ScheduleFreeAdamW against Keras's classes of the same name (arguments matched explicitly); all
  six (and ``cautious=True``, ``convention="torch"``) against adamkit.torch's optimizers.
* Schedule-Free in ``model.fit``: the model holds the average x after ``fit`` (what
  ``evaluate`` scores), as adamkit.torch's after ``eval()``; a later ``fit`` moves it back; with
  the ``ScheduleFreeEval`` callback validation scores x and no batch is lost between fits.
* ``model.fit`` compiled on TensorFlow (graph and XLA), JAX (jit) and torch (``torch.compile``)
  in child processes (Keras picks its backend at import): within 1e-4 of Keras's own class or of
  the same network trained by a torch loop with adamkit.torch (Schedule-Free validated between
  epochs through ``ScheduleFreeEval``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

os.environ["KERAS_BACKEND"] = "torch"  # before Keras is imported; the library never sets it

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import adamkit.keras as ak  # noqa: E402
import adamkit.torch as akt  # noqa: E402

if keras.backend.backend() != "torch":
    pytest.skip("these tests run Keras on the torch backend", allow_module_level=True)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHAPES = [(4, 3), (3,), (2, 3, 5), (1,)]
STEPS = 50


def start_values() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(s).astype("float32") for s in SHAPES]


def gradient(step: int, index: int) -> np.ndarray:
    """A fixed gradient per step and variable, with a non-zero mean (the moments have a trend)."""
    rng = np.random.default_rng([step, index])
    return (0.3 + rng.standard_normal(SHAPES[index])).astype("float32")


def keras_steps(optimizer: keras.optimizers.Optimizer) -> list[np.ndarray]:
    variables = [keras.Variable(v) for v in start_values()]
    for step in range(STEPS):
        optimizer.apply([torch.from_numpy(gradient(step, i)) for i in range(len(SHAPES))], variables)
    return [v.numpy() for v in variables]


def torch_steps(make_optimizer) -> list[np.ndarray]:
    params = [torch.nn.Parameter(torch.from_numpy(v)) for v in start_values()]
    optimizer = make_optimizer(params)
    for step in range(STEPS):
        for i, p in enumerate(params):
            p.grad = torch.from_numpy(gradient(step, i))
        optimizer.step()
    return [p.detach().numpy() for p in params]


def rel_diff(ours: list[np.ndarray], theirs: list[np.ndarray]) -> float:
    """The largest max|a - b| / max|b| over the arrays."""
    return max(float(np.abs(a - b).max() / np.abs(b).max()) for a, b in zip(ours, theirs, strict=True))


# ----------------------------------------------------------------------------- against keras.optimizers

#: (class name, arguments for both): Keras's defaults, then non-default arguments and Keras's weight decay.
KERAS_TWINS = [
    ("Lion", {}),
    ("Lion", {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.95, "weight_decay": 0.5}),
    ("Lamb", {}),
    ("Lamb", {"learning_rate": 0.01, "beta_1": 0.8, "epsilon": 1e-3, "weight_decay": 0.1}),
    ("Adafactor", {}),
    ("Adafactor", {"learning_rate": 0.05, "beta_2_decay": -0.5, "epsilon_2": 1e-2, "clip_threshold": 2.0,
                   "weight_decay": 0.1}),
]

#: Keras's ScheduleFreeAdamW reads its z (``momentum.value``) after updating it in place on the torch
#: and TensorFlow backends, so it is compared on JAX, where arrays are immutable (in a child process).
SCHEDULE_FREE_TWINS = [
    ("ScheduleFreeAdamW", {}),
    ("ScheduleFreeAdamW", {"learning_rate": 0.01, "beta_1": 0.8, "epsilon": 1e-6, "weight_decay": 0.1}),
    # Keras averages uniformly under warm-up; schedulefree by the rate's running max squared
    ("ScheduleFreeAdamW", {"learning_rate": 0.01, "warmup_steps": 10}, {"weight_lr_power": 0.0}),
    ("ScheduleFreeAdamW", {"learning_rate": 0.01, "warmup_steps": 10}),  # that difference: must differ
]


@pytest.mark.parametrize("case", KERAS_TWINS, ids=lambda c: f"{c[0]}-{sorted(c[1])}")
def test_equals_keras_optimizer(case):
    name, arguments, *ours_only = case
    ours = keras_steps(getattr(ak, name)(**arguments, **(ours_only[0] if ours_only else {})))
    theirs = keras_steps(getattr(keras.optimizers, name)(**arguments))
    assert rel_diff(ours, theirs) < 1e-5


STEPS_CHILD = r'''
import json, sys
import numpy as np
import keras
import adamkit.keras as ak

SHAPES, STEPS = json.loads(sys.argv[1]), int(sys.argv[2])

def steps(optimizer):
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.standard_normal(s).astype("float32")) for s in SHAPES]
    for step in range(STEPS):
        grads = [(0.3 + np.random.default_rng([step, i]).standard_normal(s)).astype("float32")
                 for i, s in enumerate(SHAPES)]
        optimizer.apply([keras.ops.convert_to_tensor(g) for g in grads], variables)
    return [v.numpy() for v in variables]

diffs = []
for name, arguments, *ours_only in json.loads(sys.argv[3]):
    ours = steps(getattr(ak, name)(**arguments, **(ours_only[0] if ours_only else {})))
    theirs = steps(getattr(keras.optimizers, name)(**arguments))
    diffs.append(max(float(np.abs(a - b).max() / np.abs(b).max()) for a, b in zip(ours, theirs)))
print(json.dumps({"backend": keras.backend.backend(), "diffs": diffs}))
'''


def run_child(backend: str, script: str, *arguments: str) -> dict:
    """``script`` run by Keras on ``backend`` in a child process; its last line of output, as JSON."""
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    env = {**os.environ, "KERAS_BACKEND": backend, "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", script, *arguments], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-5000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == backend
    return report


def test_schedule_free_equals_keras_on_jax():
    report = run_child("jax", STEPS_CHILD, json.dumps(SHAPES), str(STEPS), json.dumps(SCHEDULE_FREE_TWINS))
    *equal, different = report["diffs"]
    assert max(equal) < 1e-5
    assert different > 1e-4  # the definitional difference under warm-up is real


# ----------------------------------------------------------------------------- against adamkit.torch

#: (adamkit.keras class, its arguments, adamkit.torch's optimizer with the same meaning)
TORCH_TWINS = [
    ("Lion", {"learning_rate": 0.01, "weight_decay": 0.5}, lambda p: akt.Lion(p, lr=0.01, weight_decay=0.5)),
    ("Lion", {"learning_rate": 0.01, "cautious": True}, lambda p: akt.Lion(p, lr=0.01, cautious=True)),
    ("AdEMAMix", {"learning_rate": 0.01}, lambda p: akt.AdEMAMix(p, lr=0.01)),
    (
        "AdEMAMix",
        {"learning_rate": 0.01, "beta_3": 0.999, "alpha": 2.0, "t_alpha": 30, "t_beta3": 30,
         "cautious": True},
        lambda p: akt.AdEMAMix(p, lr=0.01, betas=(0.9, 0.999, 0.999), alpha=2.0, t_alpha=30, t_beta3=30,
                               cautious=True),
    ),
    (
        "AdaBelief",
        {"learning_rate": 0.01, "weight_decay": 0.1, "amsgrad": True},
        lambda p: akt.AdaBelief(p, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, amsgrad=True),
    ),
    (
        "Lamb",
        {"learning_rate": 0.01, "epsilon": 1e-6, "weight_decay": 0.1, "convention": "torch"},
        lambda p: akt.LAMB(p, lr=0.01, weight_decay=0.1),
    ),
    (
        "Adafactor",
        {"learning_rate": 0.05, "epsilon_1": None, "weight_decay": 0.1, "convention": "torch"},
        lambda p: akt.Adafactor(p, lr=0.05, weight_decay=0.1),
    ),
    (
        "ScheduleFreeAdamW",
        {"learning_rate": 0.01, "warmup_steps": 10, "weight_decay": 0.1, "convention": "torch"},
        lambda p: training(akt.ScheduleFreeAdamW(p, lr=0.01, warmup_steps=10, weight_decay=0.1)),
    ),
]


def training(optimizer):
    optimizer.train()
    return optimizer


@pytest.mark.parametrize("case", TORCH_TWINS, ids=lambda c: f"{c[0]}-{sorted(c[1])}")
def test_equals_adamkit_torch(case):
    name, arguments, make_torch = case
    assert rel_diff(keras_steps(getattr(ak, name)(**arguments)), torch_steps(make_torch)) < 1e-5


def test_keras_weight_decay_placement_differs_from_the_rules():
    # LAMB's decay inside the trust ratio (convention="torch") is not Keras's decoupled decay.
    arguments = {"learning_rate": 0.01, "epsilon": 1e-6, "weight_decay": 0.1}
    keras_placement = keras_steps(ak.Lamb(**arguments))
    assert rel_diff(keras_placement, torch_steps(lambda p: akt.LAMB(p, lr=0.01, weight_decay=0.1))) > 1e-4


# ----------------------------------------------------------------------------- Schedule-Free in model.fit

rng = np.random.default_rng(1)
X = rng.standard_normal((96, 6)).astype("float32")
Y = np.tanh(X @ rng.standard_normal((6, 2))).astype("float32")
START = [0.5 * rng.standard_normal(s).astype("float32") for s in [(6, 8), (8,), (8, 2), (2,)]]


def model_for(optimizer: keras.optimizers.Optimizer) -> keras.Model:
    layers = [keras.Input((6,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(2)]
    model = keras.Sequential(layers)
    model.set_weights(START)
    model.compile(optimizer=optimizer, loss="mse")
    return model


def forward(weights: list, x: np.ndarray) -> torch.Tensor:
    return torch.tanh(torch.from_numpy(x) @ weights[0] + weights[1]) @ weights[2] + weights[3]


def torch_trained(optimizer_class, epochs: int, **hyper) -> tuple[list[np.ndarray], float]:
    """The same network and batches in a torch loop; the weights and loss after ``eval()``."""
    weights = [torch.from_numpy(w.copy()).requires_grad_() for w in START]
    optimizer = optimizer_class(weights, **hyper)
    optimizer.train()
    for _ in range(epochs):
        for first in range(0, len(X), 32):
            out, target = forward(weights, X[first : first + 32]), torch.from_numpy(Y[first : first + 32])
            loss = torch.nn.functional.mse_loss(out, target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    optimizer.eval()
    with torch.no_grad():
        loss = float(torch.nn.functional.mse_loss(forward(weights, X), torch.from_numpy(Y)))
    return [w.detach().numpy() for w in weights], loss


def test_schedule_free_fit_leaves_the_average_for_evaluate():
    model = model_for(ak.ScheduleFreeAdamW(learning_rate=0.02, warmup_steps=3))
    model.fit(X, Y, epochs=3, batch_size=32, shuffle=False, verbose=0)
    expected, expected_loss = torch_trained(akt.ScheduleFreeAdamW, 3, lr=0.02, warmup_steps=3)
    assert rel_diff(model.get_weights(), expected) < 1e-5
    assert model.evaluate(X, Y, batch_size=96, verbose=0) == pytest.approx(expected_loss, rel=1e-5)
    # Keras's own class leaves the gradient point y, which scores differently
    keras_model = model_for(keras.optimizers.ScheduleFreeAdamW(learning_rate=0.02, warmup_steps=3))
    keras_model.fit(X, Y, epochs=3, batch_size=32, shuffle=False, verbose=0)
    assert rel_diff(keras_model.get_weights(), expected) > 1e-3


def test_schedule_free_eval_train_round_trip_and_continue():
    # fit, then fit again: the second fit's first batch moves the model back to y and is not applied,
    # so it continues as train() followed by a fit on the remaining batches.
    again = model_for(ak.ScheduleFreeAdamW(learning_rate=0.02))
    by_hand = model_for(ak.ScheduleFreeAdamW(learning_rate=0.02))
    for model in (again, by_hand):
        model.fit(X, Y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    average = by_hand.get_weights()
    by_hand.optimizer.train()
    by_hand.optimizer.train()  # a no-op: already at y
    by_hand.optimizer.eval()
    assert rel_diff(by_hand.get_weights(), average) < 1e-6
    by_hand.optimizer.train()
    again.fit(X, Y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    by_hand.fit(X[32:], Y[32:], epochs=1, batch_size=32, shuffle=False, verbose=0)
    assert rel_diff(again.get_weights(), by_hand.get_weights()) < 1e-6
    steps = [int(s["step"].numpy()) for s in again.optimizer._rule_state]
    assert steps == [5] * 4  # 3 + 2: the moving batch is not counted


def test_schedule_free_callback_validates_at_the_average_and_loses_no_batch():
    model = model_for(ak.ScheduleFreeAdamW(learning_rate=0.02))
    callback = ak.ScheduleFreeEval()
    history = model.fit(X, Y, epochs=2, batch_size=32, shuffle=False, verbose=0, validation_data=(X, Y),
                        callbacks=[callback])
    model.fit(X, Y, epochs=1, batch_size=32, shuffle=False, verbose=0, callbacks=[callback])
    expected, expected_loss = torch_trained(akt.ScheduleFreeAdamW, 3, lr=0.02)  # 3 epochs, no batch lost
    assert rel_diff(model.get_weights(), expected) < 1e-5
    assert model.evaluate(X, Y, batch_size=96, verbose=0, callbacks=[callback]) == pytest.approx(
        expected_loss, rel=1e-5
    )
    _, after_two = torch_trained(akt.ScheduleFreeAdamW, 2, lr=0.02)
    assert history.history["val_loss"][-1] == pytest.approx(after_two, rel=1e-5)  # validation saw x
    with pytest.raises(ValueError, match="ScheduleFreeAdamW"):
        model_for(ak.Lion()).fit(X, Y, epochs=1, verbose=0, callbacks=[ak.ScheduleFreeEval()])


def test_schedule_free_refuses_ema():
    with pytest.raises(ValueError, match="use_ema"):
        ak.ScheduleFreeAdamW(use_ema=True)


# ----------------------------------------------------------------------------- names
# (configs, save and load of every class, these included: tests/test_keras.py)


@pytest.mark.parametrize("name", ["Lion", "AdEMAMix", "AdaBelief", "Lamb", "Adafactor", "ScheduleFreeAdamW"])
def test_get_by_name(name):
    assert type(ak.get(name.lower())) is getattr(ak, name)
    assert type(ak.get(f"adamkit>{name}")) is getattr(ak, name)


@pytest.mark.parametrize("name", ["Lion", "Lamb", "Adafactor", "ScheduleFreeAdamW"])
def test_get_takes_keras_optimizer(name):
    ours = ak.get(getattr(keras.optimizers, name)(learning_rate=0.02))
    assert type(ours) is getattr(ak, name) and float(ours.learning_rate) == pytest.approx(0.02)


@pytest.mark.parametrize(
    "name, arguments, keras_name",
    [
        ("Lion", {"beta_1": 1.5}, "beta_1"),
        ("AdEMAMix", {"beta_3": 1.0}, "beta_3"),
        ("AdEMAMix", {"t_alpha": -1}, "t_alpha"),
        ("AdaBelief", {"epsilon": -1.0}, "epsilon"),
        ("Lamb", {"convention": "optax"}, "convention"),
        ("Adafactor", {"clip_threshold": 0.5}, "clip_threshold"),
        ("Adafactor", {"epsilon_2": -1.0}, "epsilon_2"),
        ("ScheduleFreeAdamW", {"beta_1": 0.0}, "beta parameter at index 0"),
    ],
)
def test_bad_arguments_are_named(name, arguments, keras_name):
    with pytest.raises(ValueError, match=keras_name.replace("[", r"\[")):
        getattr(ak, name)(**arguments)


# ----------------------------------------------------------------------------- compiled, on each backend

CHILD = r"""
import json, os, sys
import numpy as np
import keras
import adamkit.keras as ak

names, jit = json.loads(sys.argv[1]), sys.argv[2] == "jit"
backend = keras.backend.backend()
if backend == "torch":  # dynamo's capture decides whether the step compiles; inductor's codegen is minutes
    import functools, torch
    torch.compile = functools.partial(torch.compile, backend="eager")
rng = np.random.default_rng(1)
x = rng.standard_normal((96, 6)).astype("float32")
y = np.tanh(x @ rng.standard_normal((6, 2))).astype("float32")
start = [0.5 * rng.standard_normal(s).astype("float32") for s in [(6, 8), (8,), (8, 2), (2,)]]
CASES = json.loads(sys.argv[3])
report = {"backend": backend, "weights": {}, "twin_diffs": {}}

def trained(optimizer):
    layers = [keras.Input((6,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(2)]
    model = keras.Sequential(layers)
    model.set_weights(start)
    model.compile(optimizer=optimizer, loss="mse", jit_compile=jit)
    if isinstance(optimizer, ak.ScheduleFreeAdamW):  # validated at x between epochs, trained at y
        extra = {"validation_data": (x, y), "callbacks": [ak.ScheduleFreeEval()]}
    else:
        extra = {}
    model.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0, **extra)
    return model.get_weights()

for name in names:
    ours = trained(getattr(ak, name)(**CASES[name]["ours"]))
    report["weights"][name] = [w.tolist() for w in ours]
    if "keras" in CASES[name]:
        theirs = trained(getattr(keras.optimizers, name)(**CASES[name]["keras"]))
        diffs = [float(np.abs(a - b).max() / np.abs(b).max()) for a, b in zip(ours, theirs)]
        report["twin_diffs"][name] = max(diffs)
print(json.dumps(report))
"""

#: per optimizer: adamkit.keras's arguments, Keras's twin's (where Keras has one), adamkit.torch's reference.
FIT_CASES = {
    "Lion": {"ours": {"learning_rate": 0.005, "weight_decay": 0.1},
             "keras": {"learning_rate": 0.005, "weight_decay": 0.1}},
    "AdEMAMix": {"ours": {"learning_rate": 0.01, "cautious": True}},
    "AdaBelief": {"ours": {"learning_rate": 0.01, "weight_decay": 0.1}},
    "Lamb": {"ours": {"learning_rate": 0.01, "epsilon": 1e-6},
             "keras": {"learning_rate": 0.01, "epsilon": 1e-6}},
    "Adafactor": {"ours": {"learning_rate": 0.05}, "keras": {"learning_rate": 0.05}},
    "ScheduleFreeAdamW": {"ours": {"learning_rate": 0.02}},
}
TORCH_REFERENCES = {
    "Lion": lambda w: akt.Lion(w, lr=0.005, weight_decay=0.1),
    "AdEMAMix": lambda w: akt.AdEMAMix(w, lr=0.01, cautious=True),
    "AdaBelief": lambda w: akt.AdaBelief(w, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    "Lamb": lambda w: akt.LAMB(w, lr=0.01),
    "Adafactor": lambda w: akt.Adafactor(w, lr=0.05, eps=(1e-30, 1e-3)),
    "ScheduleFreeAdamW": lambda w: akt.ScheduleFreeAdamW(w, lr=0.02),
}


def torch_fit_reference(name: str) -> list[np.ndarray]:
    """The child's network and batches (3 epochs) in a torch loop with adamkit.torch."""
    weights = [torch.from_numpy(w.copy()).requires_grad_() for w in START]
    optimizer = TORCH_REFERENCES[name](weights)
    schedule_free = isinstance(optimizer, akt.ScheduleFreeAdamW)
    if schedule_free:
        optimizer.train()
    for _ in range(3):
        for first in range(0, len(X), 32):
            out = forward(weights, X[first : first + 32])
            loss = torch.nn.functional.mse_loss(out, torch.from_numpy(Y[first : first + 32]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    if schedule_free:
        optimizer.eval()  # what adamkit.keras's model holds after fit
    return [w.detach().numpy() for w in weights]


def fit_on(backend: str, names: list[str], jit: bool) -> dict:
    report = run_child(backend, CHILD, json.dumps(names), "jit" if jit else "default", json.dumps(FIT_CASES))
    assert set(report["weights"]) == set(names)
    for name in names:
        ours = [np.asarray(w, dtype="float32") for w in report["weights"][name]]
        assert rel_diff(ours, torch_fit_reference(name)) < 1e-4, (name, backend)
    for name, diff in report["twin_diffs"].items():
        assert diff < 1e-4, (name, backend, diff)
    return report


@pytest.mark.slow
def test_fit_compiled_on_tensorflow():
    report = fit_on("tensorflow", list(FIT_CASES), jit=False)
    assert set(report["twin_diffs"]) == {"Lion", "Lamb", "Adafactor"}


@pytest.mark.slow
def test_fit_xla_on_tensorflow():
    fit_on("tensorflow", ["Lion", "AdEMAMix", "Adafactor", "ScheduleFreeAdamW"], jit=True)


@pytest.mark.slow
def test_fit_compiled_on_jax():
    fit_on("jax", ["Lion", "AdEMAMix", "ScheduleFreeAdamW"], jit=False)  # JAX's default is jax.jit


@pytest.mark.slow
def test_fit_torch_compile():
    fit_on("torch", ["Lion", "AdEMAMix"], jit=True)  # dynamo's capture: about 15 s an optimizer
