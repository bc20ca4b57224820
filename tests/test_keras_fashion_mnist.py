"""The articles' Keras MLP (Flatten, Dense 128 ReLU, Dense 10 softmax), with only the optimizer line changed.

The article trains on MNIST with ``tf.keras.optimizers.Adam(learning_rate=0.001)`` for 5
epochs (batch 32, validation split 0.2). Here it runs on Fashion-MNIST with
``adamkit.keras.Adam(learning_rate=0.001)`` and must reach keras.optimizers.Adam's test
accuracy within 0.5 points. The CI test is one epoch on a tenth of the data; the full
comparison (5 epochs, 3 seeds, all the data) runs with::

    .venv/bin/python tests/test_keras_fashion_mnist.py

The article's own script, TensorFlow's imports (``tf.keras``) and all, runs on the
TensorFlow backend in a child process (Keras's backend is per process) with only its
optimizer line changed, and its data loading replaced by Fashion-MNIST from disk.
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

import adamkit.keras  # noqa: E402
from adamkit.data import DataError, load  # noqa: E402


def fashion_mnist(train: int | None = None, test: int | None = None):
    """Fashion-MNIST as the article's MNIST: 28 x 28 images in [0, 1], one-hot labels."""
    ds = load("fashion-mnist", validation=0.0, download=False)
    x_train, y_train = ds.x_train[:train].reshape(-1, 28, 28), ds.y_train[:train]
    x_test, y_test = ds.x_test[:test].reshape(-1, 28, 28), ds.y_test[:test]
    return (x_train, keras.utils.to_categorical(y_train, 10)), (
        x_test,
        keras.utils.to_categorical(y_test, 10),
    )


def article_test_accuracy(optimizer, data, seed: int, epochs: int = 5) -> tuple[float, list[np.ndarray]]:
    """The article's script from the model on; ``optimizer`` is the one line that changes."""
    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.2, verbose=0)
    _, test_acc = model.evaluate(x_test, y_test, verbose=0)
    return float(test_acc), model.get_weights()


@pytest.fixture(scope="module")
def small_data():
    try:
        return fashion_mnist(train=6000, test=2000)
    except DataError as error:
        pytest.skip(f"Fashion-MNIST is not on this machine: {error}")


@pytest.mark.slow
def test_article_mlp_reaches_keras_adam_accuracy(small_data):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: threads only contend
    try:
        theirs, their_weights = article_test_accuracy(
            keras.optimizers.Adam(learning_rate=0.001), small_data, seed=0, epochs=1
        )
        ours, our_weights = article_test_accuracy(
            adamkit.keras.Adam(learning_rate=0.001), small_data, seed=0, epochs=1
        )
    finally:
        torch.set_num_threads(threads)
    assert ours > 0.7  # it learned (chance is 0.1)
    assert abs(ours - theirs) < 0.005
    # Same start, same batches, same arithmetic up to Keras's float32 rounding of its scalars
    # (about 1e-5 of each step, see test_keras_parity.py): the weights agree to 3 digits.
    scale = max(float(np.abs(w).max()) for w in their_weights)
    difference = max(float(np.abs(a - b).max()) for a, b in zip(our_weights, their_weights, strict=True))
    assert difference < 1e-3 * scale


def full_comparison(seeds=(0, 1, 2), epochs: int = 5) -> None:
    """The acceptance run: the article's 5 epochs on all of Fashion-MNIST, 3 seeds, both optimizers."""
    data = fashion_mnist()
    rows = []
    for seed in seeds:
        theirs, _ = article_test_accuracy(keras.optimizers.Adam(learning_rate=0.001), data, seed, epochs)
        ours, _ = article_test_accuracy(adamkit.keras.Adam(learning_rate=0.001), data, seed, epochs)
        rows.append((seed, theirs, ours))
        print(f"seed {seed}: keras.optimizers.Adam {theirs:.4f}  adamkit.keras.Adam {ours:.4f}", flush=True)
    theirs, ours = np.mean([r[1] for r in rows]), np.mean([r[2] for r in rows])
    gap = 100 * (ours - theirs)
    print(f"mean:   keras.optimizers.Adam {theirs:.4f}  adamkit.keras.Adam {ours:.4f}  ({gap:+.2f} points)")


if __name__ == "__main__":
    torch.set_num_threads(1)
    full_comparison()


#: The article's TensorFlow script, verbatim from the model on but for ``{optimizer}`` (and the import
#: of adamkit.keras); the data
#: (``x_train`` ... in [0, 1], one-hot labels) come from Fashion-MNIST on disk, as the article's
#: ``mnist.load_data()`` would need the network.
ARTICLE = """
import tensorflow as tf
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import Dense, Flatten
import adamkit.keras  # the line added, with the optimizer line

model = Sequential([
    Flatten(input_shape=(28, 28)),
    Dense(128, activation='relu'),
    Dense(10, activation='softmax')
])

model.compile(
    optimizer={optimizer},
    loss='categorical_crossentropy',
    metrics=['accuracy']
)

model.fit(x_train, y_train, epochs=1, batch_size=32, validation_split=0.2, verbose=0)
test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
"""

TF_CHILD = """
import json, sys
import numpy as np
import tensorflow as tf
from tensorflow.keras.utils import to_categorical
import adamkit.keras
from adamkit.data import load

ds = load("fashion-mnist", validation=0.0, download=False)
x_train, x_test = ds.x_train[:6000].reshape(-1, 28, 28), ds.x_test[:2000].reshape(-1, 28, 28)
y_train, y_test = to_categorical(ds.y_train[:6000], 10), to_categorical(ds.y_test[:2000], 10)
results = {"backend": tf.keras.backend.backend()}
for name, optimizer in json.loads(sys.argv[1]).items():
    tf.keras.utils.set_random_seed(0)
    scope = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    exec(sys.argv[2].format(optimizer=optimizer), scope)
    results[name] = {"accuracy": float(scope["test_acc"]), "type": type(scope["model"].optimizer).__module__}
    results[name]["weights"] = [w.tolist() for w in scope["model"].get_weights()]
print(json.dumps(results))
"""


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="TensorFlow is not installed")
def test_article_tensorflow_script_runs_with_adamkit(small_data):
    """The article's tf.keras script trains with adamkit.keras.Adam as with tf.keras.optimizers.Adam."""
    optimizers = {
        "theirs": "tf.keras.optimizers.Adam(learning_rate=0.001)",
        "ours": "adamkit.keras.Adam(learning_rate=0.001)",
    }
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", TF_CHILD, json.dumps(optimizers), ARTICLE],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == "tensorflow"
    ours, theirs = report["ours"], report["theirs"]
    assert ours["type"].startswith("adamkit.keras") and theirs["type"].startswith("keras")
    assert ours["accuracy"] > 0.7  # it learned (chance is 0.1)
    assert abs(ours["accuracy"] - theirs["accuracy"]) < 0.005
    our_weights = [np.array(w) for w in ours["weights"]]
    their_weights = [np.array(w) for w in theirs["weights"]]
    # Same start and batches; Keras rounds beta_2 to float32 in 1 - beta_2**t (1e-5 of each early
    # step, which ReLU boundaries amplify over 150 steps), adamkit does not: 3 digits agree.
    scale = max(float(np.abs(w).max()) for w in their_weights)
    difference = max(float(np.abs(a - b).max()) for a, b in zip(our_weights, their_weights, strict=True))
    assert difference < 2e-3 * scale
