"""adamkit.keras on every installed Keras backend, each in a process of its own (the backend is per process).

For each backend that is importable (torch, and JAX and TensorFlow when present), a
child process trains the same small MLP with keras.optimizers and adamkit.keras (Adam,
Nadam, RMSprop with momentum, SGD with Nesterov momentum) compiled with
``run_eagerly=True``, and reports the largest relative weight difference; on JAX and
TensorFlow it also checks that a traced (jit) training step fails with the advice to run
eagerly rather than with a tracer error.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

CHILD = r"""
import json, sys
import numpy as np
import keras
import adamkit.keras as ak

rng = np.random.default_rng(1)
x = rng.standard_normal((128, 6)).astype("float32")
y = np.tanh(x @ rng.standard_normal((6, 2))).astype("float32")
start = [0.5 * rng.standard_normal(s).astype("float32") for s in [(6, 8), (8,), (8, 2), (2,)]]

def trained(optimizer, run_eagerly=True):
    layers = [keras.Input((6,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(2)]
    model = keras.Sequential(layers)
    model.set_weights(start)
    model.compile(optimizer=optimizer, loss="mse", run_eagerly=run_eagerly)
    model.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0)
    return model.get_weights()

cases = {
    "Adam": {"learning_rate": 0.01},
    "Nadam": {"learning_rate": 0.01},
    "RMSprop": {"learning_rate": 0.01, "momentum": 0.9},
    "SGD": {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
}
report = {"backend": keras.backend.backend(), "diffs": {}}
for name, kwargs in cases.items():
    ours = trained(getattr(ak, name)(**kwargs))
    theirs = trained(getattr(keras.optimizers, name)(**kwargs))
    report["diffs"][name] = max(float(np.abs(a - b).max() / np.abs(b).max()) for a, b in zip(ours, theirs))
if keras.backend.backend() != "torch":
    try:
        trained(ak.Adam(), run_eagerly=False)
        report["traced"] = "trained"
    except Exception as error:
        report["traced"] = f"{type(error).__name__}: {error}"
print(json.dumps(report))
"""


def installed(backend: str) -> bool:
    return importlib.util.find_spec(backend) is not None


@pytest.mark.parametrize("backend", ["torch", "jax", "tensorflow"])
def test_backend_trains_as_keras(backend):
    if not installed(backend):
        pytest.skip(f"{backend} is not installed")
    env = {**os.environ, "KERAS_BACKEND": backend, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == backend
    for name, diff in report["diffs"].items():
        assert diff < 1e-4, (name, diff)
    if backend != "torch":
        assert "run_eagerly=True" in report["traced"], report["traced"]
