"""adamkit.keras as a Keras citizen: signatures, configs, names, errors, schedules, state, saving.

The arithmetic against keras.optimizers, torch.optim and the NumPy rules is in
test_keras_parity.py; the articles' example on Fashion-MNIST in test_keras_fashion_mnist.py.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

os.environ["KERAS_BACKEND"] = "torch"  # before Keras is imported; the library never sets it

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import adamkit.keras as ak  # noqa: E402
from adamkit.schedules import cosine, exponential, step, warmup  # noqa: E402

if keras.backend.backend() != "torch":
    pytest.skip("these tests run Keras on the torch backend", allow_module_level=True)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


KERAS_TWINS = ["Adam", "AdamW", "Adamax", "Nadam", "SGD", "RMSprop", "Adagrad", "Adadelta"]
#: The modern family's Keras twins (their state differs: tests/test_keras_modern.py).
MODERN_TWINS = ["Lion", "Lamb", "Adafactor", "ScheduleFreeAdamW"]
ALL = sorted(cls.__name__ for cls in ak.OPTIMIZERS.values())

#: Every class with arguments away from their defaults (a config must carry them all).
NON_DEFAULT = {
    "Adam": {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-4, "amsgrad": True},
    "AdamW": {"learning_rate": 0.01, "weight_decay": 0.1, "convention": "torch"},
    "Adamax": {"learning_rate": 0.01, "beta_2": 0.99, "convention": "torch"},
    "Nadam": {"learning_rate": 0.01, "beta_1": 0.8, "epsilon": 1e-4},
    "RAdam": {"learning_rate": 0.01, "beta_2": 0.99, "weight_decay": 0.01},
    "SGD": {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
    "RMSprop": {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.5, "centered": True},
    "Adagrad": {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "epsilon": 1e-4},
    "Adadelta": {"learning_rate": 1.0, "rho": 0.9, "epsilon": 1e-5},
    "SWATS": {"learning_rate": 0.01, "switch_tol": 1e-3},
    "Lion": {"learning_rate": 0.001, "beta_1": 0.8, "beta_2": 0.9, "cautious": True},
    "AdEMAMix": {"learning_rate": 0.01, "beta_3": 0.999, "alpha": 2.0, "epsilon": 1e-6, "t_alpha": 10.0,
                 "t_beta3": 10.0, "cautious": True, "weight_decay": 0.1},
    "AdaBelief": {"learning_rate": 0.01, "beta_1": 0.8, "epsilon": 1e-10, "amsgrad": True},
    "Lamb": {"learning_rate": 0.01, "beta_2": 0.99, "epsilon": 1e-6, "convention": "torch"},
    "Adafactor": {"learning_rate": 0.05, "beta_2_decay": -0.5, "epsilon_1": 1e-20, "epsilon_2": 1e-2,
                  "clip_threshold": 2.0, "relative_step": False, "convention": "torch"},
    "ScheduleFreeAdamW": {"learning_rate": 0.01, "beta_1": 0.8, "epsilon": 1e-6, "warmup_steps": 5, "r": 1.0,
                          "weight_lr_power": 1.0, "convention": "torch"},
}

# ----------------------------------------------------------------------------- the classes


def test_every_class_is_a_keras_optimizer():
    assert ALL == sorted(NON_DEFAULT)
    for cls in ak.OPTIMIZERS.values():
        assert issubclass(cls, keras.optimizers.Optimizer)


BASE_ARGUMENTS = {
    "weight_decay",
    "clipnorm",
    "clipvalue",
    "global_clipnorm",
    "use_ema",
    "ema_momentum",
    "ema_overwrite_frequency",
    "loss_scale_factor",
    "gradient_accumulation_steps",
    "name",
}


@pytest.mark.parametrize("name", KERAS_TWINS + MODERN_TWINS)
def test_signature_has_keras_arguments_and_defaults(name):
    """Keras's own arguments, in Keras's order with Keras's defaults (base ones via **kwargs)."""
    theirs = inspect.signature(getattr(keras.optimizers, name).__init__).parameters
    ours = inspect.signature(getattr(ak, name).__init__).parameters
    their_own = [p for p in theirs.values() if p.name not in BASE_ARGUMENTS | {"self", "kwargs"}]
    our_own = [p for p in ours.values() if p.name in {q.name for q in their_own}]
    assert [(p.name, p.default) for p in our_own] == [(p.name, p.default) for p in their_own]
    if "weight_decay" in ours:  # AdamW names it, with Keras's default
        assert ours["weight_decay"].default == theirs["weight_decay"].default


@pytest.mark.parametrize("name", ALL)
def test_keras_base_arguments_are_accepted(name):
    optimizer = getattr(ak, name)(
        clipnorm=1.0,
        weight_decay=0.01,
        use_ema=name != "ScheduleFreeAdamW",  # which refuses it (its own average is evaluated)
        ema_momentum=0.9,
        ema_overwrite_frequency=5,
        loss_scale_factor=2.0,
        gradient_accumulation_steps=2,
        name="mine",
    )
    config = optimizer.get_config()
    assert config["clipnorm"] == 1.0 and config["gradient_accumulation_steps"] == 2
    assert config["use_ema"] == (name != "ScheduleFreeAdamW")
    assert config["name"] == "mine"
    with pytest.raises(ValueError, match="not recognized"):
        getattr(ak, name)(lr=0.1)  # torch's name is not Keras's


# ----------------------------------------------------------------------------- configs and names


@pytest.mark.parametrize("name", ALL)
def test_config_round_trip(name):
    optimizer = getattr(ak, name)(**NON_DEFAULT[name])
    config = optimizer.get_config()
    for key, value in NON_DEFAULT[name].items():
        assert config[key] == pytest.approx(value), key
    again = type(optimizer).from_config(config)
    assert again.get_config() == config
    revived = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(revived) is type(optimizer) and revived.get_config() == config


@pytest.mark.parametrize("name", ["adam", "Adagrad", "SGD", "rmsprop", "NADAM", "adamkit>AdamW"])
def test_get_by_name_gives_the_class_with_keras_defaults(name):
    optimizer = ak.get(name)
    cls_name = name.removeprefix("adamkit>").lower()
    assert type(optimizer) is ak.OPTIMIZERS[cls_name]
    theirs = keras.optimizers.get(cls_name).get_config()
    ours = optimizer.get_config()
    assert {k: ours[k] for k in theirs if k != "name"} == {k: v for k, v in theirs.items() if k != "name"}


def test_get_converts_a_keras_optimizer_and_a_config():
    keras_adam = keras.optimizers.Adam(learning_rate=0.01, amsgrad=True, clipnorm=2.0)
    ours = ak.get(keras_adam)
    assert type(ours) is ak.Adam
    assert (ours.get_config()["learning_rate"], ours.amsgrad, ours.clipnorm) == (
        pytest.approx(0.01),
        True,
        2.0,
    )
    from_dict = ak.get({"class_name": "SGD", "config": {"learning_rate": 0.5, "momentum": 0.9}})
    assert type(from_dict) is ak.SGD and from_dict.momentum == 0.9
    assert ak.get(ours) is ours
    with pytest.raises(ValueError, match="ftrl"):
        ak.get("ftrl")


def test_registered_name_works_in_compile():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="adamkit>Adagrad", loss="mse")
    assert type(model.optimizer) is ak.Adagrad
    model.compile(optimizer=ak.get("adam"), loss="mse")  # a script's optimizer="adam", one call added
    assert type(model.optimizer) is ak.Adam


def test_custom_objects_route(tmp_path):
    """CUSTOM_OBJECTS loads adamkit models; {"Adam": ak.Adam} puts adamkit's Adam into a Keras-saved model."""
    assert set(ak.CUSTOM_OBJECTS) == {f"adamkit>{cls.__name__}" for cls in ak.OPTIMIZERS.values()} | {
        "adamkit>ScheduledRate"
    }
    ours = fit(ak.Nadam(learning_rate=ak.ScheduledRate(0.01, cosine(30))))
    ours.save(tmp_path / "ours.keras")
    with keras.saving.custom_object_scope(ak.CUSTOM_OBJECTS):
        loaded = keras.saving.load_model(tmp_path / "ours.keras")
    assert type(loaded.optimizer) is ak.Nadam
    assert isinstance(loaded.optimizer._learning_rate, ak.ScheduledRate)
    theirs = fit("adam")
    theirs.save(tmp_path / "theirs.keras")
    # Keras's Adam state does not fit adamkit's variables: Keras skips it, and says so.
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        swapped = keras.saving.load_model(tmp_path / "theirs.keras", custom_objects={"Adam": ak.Adam})
    assert type(swapped.optimizer) is ak.Adam
    fit(None, model=swapped)  # trains on, from a fresh state


def test_loading_without_adamkit_says_what_to_import(tmp_path):
    """Keras cannot find an adamkit class unless adamkit.keras is imported: its error must say so."""
    fit(ak.SWATS()).save(tmp_path / "model.keras")
    code = f"import keras; keras.saving.load_model({str(tmp_path / 'model.keras')!r})"
    result = run_python(code, KERAS_BACKEND="torch")
    assert result.returncode != 0
    assert "Could not locate class 'SWATS'" in result.stderr
    assert "import adamkit.keras before keras.saving.load_model" in result.stderr


# ----------------------------------------------------------------------------- bad arguments

BAD = [
    ("Adam", {"beta_1": 1.0}, "beta_1"),
    ("Adam", {"beta_2": -0.1}, "beta_2"),
    ("Adam", {"epsilon": -1e-7}, "epsilon"),
    ("Adam", {"learning_rate": -0.1}, "learning_rate"),
    ("Adam", {"weight_decay": -0.1}, "weight_decay"),
    ("Adam", {"convention": "paper"}, "convention"),
    ("AdamW", {"weight_decay": None}, "weight_decay"),
    ("Nadam", {"beta_2": 1.5}, "beta_2"),
    ("RAdam", {"epsilon": -1.0}, "epsilon"),
    ("SWATS", {"switch_tol": -1.0}, "switch_tol"),
    ("SGD", {"momentum": 1.5}, "momentum"),
    ("SGD", {"nesterov": True}, "nesterov"),
    ("RMSprop", {"rho": -0.5}, "rho"),
    ("RMSprop", {"momentum": -0.5}, "momentum"),
    ("Adagrad", {"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
    ("Adadelta", {"rho": 1.5}, "rho"),
]


@pytest.mark.parametrize("name,kwargs,word", BAD, ids=lambda x: str(x))
def test_bad_arguments_are_named_in_keras_terms(name, kwargs, word):
    with pytest.raises(ValueError) as error:
        getattr(ak, name)(**kwargs)
    assert f"({word})" in str(error.value) or word in str(error.value)


# ----------------------------------------------------------------------------- state variables


def built(optimizer, shapes=((2, 3), (3,))):
    variables = [keras.Variable(np.ones(s, "float32"), name=f"w{i}") for i, s in enumerate(shapes)]
    optimizer.build(variables)
    return optimizer, variables


def test_state_variables_have_torch_names_and_fresh_values():
    optimizer, _ = built(ak.Adam(amsgrad=True))
    names = [v.name for v in optimizer.variables]
    expected = [
        f"w{i}_{key}" for i in range(2) for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step")
    ]
    assert sorted(n for n in names if n.startswith("w")) == sorted(expected)
    adagrad, _ = built(ak.Adagrad(initial_accumulator_value=0.25))
    sums = [v.numpy() for v in adagrad.variables if v.name.endswith("_sum")]
    assert len(sums) == 2 and all(np.all(s == 0.25) for s in sums)


def test_scalar_state_counts_steps_per_variable():
    """A variable left without a gradient keeps its own step, as in torch.optim."""
    optimizer, (w0, w1) = built(ak.Adam())
    one = torch.ones(2, 3)
    for _ in range(3):
        optimizer.apply([one, torch.ones(3)], [w0, w1])
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        optimizer.apply([one, None], [w0, w1])
    steps = [float(v.numpy()) for v in optimizer.variables if v.name.endswith("_step")]
    assert steps == [4.0, 3.0]


@pytest.mark.parametrize("name", KERAS_TWINS)
def test_as_many_variables_as_keras(name):
    """Not one more variable per weight than Keras keeps, apart from the scalar counters."""
    kwargs = {"momentum": 0.9} if name in ("SGD", "RMSprop") else {}
    ours, _ = built(getattr(ak, name)(**kwargs))
    theirs, _ = built(getattr(keras.optimizers, name)(**kwargs))
    our_shapes = sorted(tuple(v.shape) for v in ours.variables if len(v.shape) > 0)
    assert our_shapes == sorted(tuple(v.shape) for v in theirs.variables if len(v.shape) > 0)


# ----------------------------------------------------------------------------- schedules


def test_scheduled_rate_equals_keras_cosine_with_warmup():
    ours = ak.ScheduledRate(0.05, warmup(cosine(steps=30), steps=10))
    theirs = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=30, warmup_target=0.05, warmup_steps=10)
    for t in range(0, 50, 3):
        assert float(ours(t)) == pytest.approx(float(theirs(t)), rel=1e-6, abs=1e-9), t


def test_scheduled_rate_round_trips_and_refuses_what_it_cannot_save():
    rate = ak.ScheduledRate(0.1, warmup(step(every=5, gamma=0.5), steps=3, start_factor=0.1))
    again = ak.ScheduledRate.from_config(rate.get_config())
    assert again.schedule == rate.schedule and again.initial_learning_rate == 0.1
    optimizer = ak.Adam(learning_rate=rate)
    revived = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(revived._learning_rate, ak.ScheduledRate)
    assert [float(revived._learning_rate(t)) for t in range(12)] == [float(rate(t)) for t in range(12)]
    with pytest.raises(TypeError, match="adamkit.schedules"):
        ak.ScheduledRate(0.1, lambda t: 0.5**t).get_config()


def test_scheduled_rate_drives_training_as_keras_schedule_does():
    """An adamkit schedule inside fit trains exactly as the same Keras schedule."""
    ours = ak.Adam(learning_rate=ak.ScheduledRate(0.05, exponential(0.9)))
    theirs = ak.Adam(learning_rate=keras.optimizers.schedules.ExponentialDecay(0.05, 1, 0.9))
    a, b = fit(ours, epochs=3), fit(theirs, epochs=3)
    assert (
        max(float(np.abs(x - y).max()) for x, y in zip(a.get_weights(), b.get_weights(), strict=True)) < 1e-6
    )
    assert float(ours.learning_rate) == pytest.approx(0.05 * 0.9**24, rel=1e-6)  # 3 epochs of 8 steps


# ----------------------------------------------------------------------------- saving and loading


def data():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((256, 6)).astype("float32")
    return x, np.sin(x @ rng.standard_normal((6, 2))).astype("float32")


def fit(optimizer, epochs: int = 2, model=None):
    x, y = data()
    if model is None:
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((6,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(2)]
        )
        model.compile(optimizer=optimizer, loss="mse")
    model.fit(x, y, epochs=epochs, batch_size=32, shuffle=False, verbose=0)
    return model


SAVE_CASES = [(name, NON_DEFAULT[name]) for name in ALL] + [
    ("Adam", {"learning_rate": ak.ScheduledRate(0.01, warmup(cosine(40), 8))}),
    ("SGD", {"learning_rate": keras.optimizers.schedules.ExponentialDecay(0.05, 4, 0.5), "momentum": 0.9}),
    ("Adam", {"use_ema": True, "ema_momentum": 0.9, "gradient_accumulation_steps": 2}),
]


@pytest.mark.parametrize("case", SAVE_CASES, ids=lambda c: c[0] + "-" + "-".join(c[1]))
def test_saved_model_loads_and_continues_identically(case, tmp_path):
    name, kwargs = case
    model = fit(getattr(ak, name)(**kwargs))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    for ours, theirs in zip(loaded.optimizer.variables, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    fit(None, model=model)
    fit(None, model=loaded)
    for ours, theirs in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    for ours, theirs in zip(loaded.optimizer.variables, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_saving_restores_state_that_matters():
    """The check above can fail: a model loaded without its optimizer state continues differently."""
    model = fit(ak.Adam(learning_rate=0.01))
    fresh = keras.models.clone_model(model)
    fresh.set_weights(model.get_weights())
    fresh.compile(optimizer=ak.Adam(learning_rate=0.01), loss="mse")
    fit(None, model=model)
    fit(None, model=fresh)
    differences = [np.abs(a - b).max() for a, b in zip(model.get_weights(), fresh.get_weights(), strict=True)]
    assert max(differences) > 1e-4


# ----------------------------------------------------------------------------- installation


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, timeout=120
    )


def test_without_keras_the_import_says_how_to_install():
    result = run_python("import sys; sys.modules['keras'] = None; import adamkit.keras")
    assert result.returncode != 0
    assert "pip install 'adamkit[keras]'" in result.stderr


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("tensorflow") is not None, reason="TensorFlow is installed"
)
def test_without_the_backend_the_import_says_which_to_set():
    result = run_python("import adamkit.keras", KERAS_BACKEND="tensorflow")
    assert result.returncode != 0
    assert "KERAS_BACKEND=torch" in result.stderr
