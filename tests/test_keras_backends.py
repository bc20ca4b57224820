"""adamkit.keras on every installed Keras backend, compiled as Keras compiles by default.

Keras picks its backend when it is imported, so each backend runs in a child process of
its own (``KERAS_BACKEND``), which does every check in one go (TensorFlow's import alone
takes seconds) and prints a JSON report that the tests below read:

* every optimizer with a Keras twin trains in ``model.fit`` under the default
  ``model.compile`` (TensorFlow: a ``tf.function`` graph; JAX: ``jax.jit``; torch: eager)
  and ends 5 epochs within 1e-4 (relative) of keras.optimizers' class of the same name;
* RAdam and SWATS, which Keras lacks, end within 1e-4 of the same network trained by a
  plain torch loop with torch.optim.RAdam and adamkit's NumPy SWATS (SWATS switching;
  not adamkit.torch: numba's LLVM and TensorFlow's XLA cannot share a process);
* the fully compiled modes: TensorFlow with XLA (``jit_compile=True``), torch with
  ``jit_compile=True``, where dynamo must capture the step in no more graphs and with no
  more graph breaks than for keras.optimizers.Adam (Keras's own step breaks at
  ``loss.backward()``), so no step falls back to eager;
* a model saved mid-training (SWATS on an adamkit schedule: every kind of state) loads
  and continues exactly as the original continues.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

CHILD = r"""
import functools, json, os, sys, tempfile
import numpy as np
import torch
import adamkit.numpy

rng = np.random.default_rng(1)
x = rng.standard_normal((128, 6)).astype("float32")
y = np.tanh(x @ rng.standard_normal((6, 2))).astype("float32")
start = [0.5 * rng.standard_normal(s).astype("float32") for s in [(6, 8), (8,), (8, 2), (2,)]]


def torch_trained(make_optimizer, epochs=5):
    # The same network, batches and loss in a plain torch loop.
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    weights = [torch.from_numpy(w.copy()).requires_grad_() for w in start]
    optimizer = make_optimizer(weights)
    for _ in range(epochs):
        for first in range(0, len(xs), 32):
            hidden = torch.tanh(xs[first : first + 32] @ weights[0] + weights[1])
            loss = torch.nn.functional.mse_loss(hidden @ weights[2] + weights[3], ys[first : first + 32])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return [w.detach().numpy() for w in weights]


class NumpyStepper:  # an adamkit.numpy optimizer on the torch weights' memory, fed their gradients

    def __init__(self, optimizer_class, weights, **hyper):
        self.weights = weights
        self.optimizer = optimizer_class([w.detach().numpy() for w in weights], **hyper)

    def zero_grad(self):
        for w in self.weights:
            w.grad = None

    def step(self):
        self.optimizer.step([w.grad.numpy() for w in self.weights])


def rel_diff(ours, theirs):
    return max(float(np.abs(a - b).max() / np.abs(b).max()) for a, b in zip(ours, theirs))


lr = float(np.float32(0.01))
# The references before Keras starts TensorFlow: torch.optim's first step loads an LLVM that
# collides with TensorFlow's (a crash) when TensorFlow came first.
REFERENCE = {
    "RAdam": torch_trained(lambda w: torch.optim.RAdam(w, lr=lr, eps=1e-7)),
    "SWATS": torch_trained(lambda w: NumpyStepper(adamkit.numpy.SWATS, w, lr=lr, eps=1e-7, switch_tol=1e-3)),
}
import keras
import adamkit.keras as ak
from adamkit.schedules import cosine, warmup
if os.environ["KERAS_BACKEND"] == "torch":
    # dynamo's capture decides whether the step compiles; its eager backend skips inductor's
    # code generation (a minute on two cores).
    torch.compile = functools.partial(torch.compile, backend="eager")


def model_for(optimizer, **compile_options):
    layers = [keras.Input((6,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(2)]
    model = keras.Sequential(layers)
    model.set_weights(start)
    model.compile(optimizer=optimizer, loss="mse", **compile_options)
    return model


def trained(optimizer, epochs=5, **compile_options):
    model = model_for(optimizer, **compile_options)
    model.fit(x, y, epochs=epochs, batch_size=32, shuffle=False, verbose=0)
    return model.get_weights()


backend = keras.backend.backend()
report = {"backend": backend, "diffs": {}}
TWINS = {
    "Adam": {"learning_rate": 0.01, "amsgrad": True},
    "AdamW": {"learning_rate": 0.01, "weight_decay": 0.05},
    "Adamax": {"learning_rate": 0.01},
    "Nadam": {"learning_rate": 0.01},
    "SGD": {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
    "RMSprop": {"learning_rate": 0.01, "momentum": 0.9, "centered": True},
    "Adagrad": {"learning_rate": 0.1},
    "Adadelta": {"learning_rate": 1.0},
}
for name, kwargs in TWINS.items():
    ours = trained(getattr(ak, name)(**kwargs))
    report["diffs"][name] = rel_diff(ours, trained(getattr(keras.optimizers, name)(**kwargs)))

report["diffs"]["RAdam"] = rel_diff(trained(ak.RAdam(learning_rate=0.01)), REFERENCE["RAdam"])
optimizer = ak.SWATS(learning_rate=0.01, switch_tol=1e-3)
report["diffs"]["SWATS"] = rel_diff(trained(optimizer), REFERENCE["SWATS"])
report["swats_switched"] = sum(bool(np.asarray(s["switched"].numpy())) for s in optimizer._rule_state)

if backend in ("tensorflow", "torch"):  # JAX's default is already jit
    def compiled(optimizer):
        if backend == "tensorflow":
            return trained(optimizer, jit_compile=True)
        from torch._dynamo.utils import counters

        counters.clear()
        weights = trained(optimizer, jit_compile=True)
        report.setdefault("dynamo", {})[optimizer.name] = [
            sum(counters["graph_break"].values()), counters["stats"]["unique_graphs"]
        ]
        return weights

    keras_adam = compiled(keras.optimizers.Adam(learning_rate=0.01, name="keras_adam"))
    report["diffs"]["Adam, jit_compile"] = rel_diff(compiled(ak.Adam(learning_rate=0.01)), keras_adam)
    ours = compiled(ak.RAdam(learning_rate=0.01))
    report["diffs"]["RAdam, jit_compile"] = rel_diff(ours, REFERENCE["RAdam"])
    ours = compiled(ak.SWATS(learning_rate=0.01, switch_tol=1e-3))
    report["diffs"]["SWATS, jit_compile"] = rel_diff(ours, REFERENCE["SWATS"])

# Save after 2 epochs, load, and train both 2 more: the same weights and state, to the bit.
rate = ak.ScheduledRate(0.02, warmup(cosine(steps=20), steps=4))
model = model_for(ak.SWATS(learning_rate=rate, switch_tol=1e-3))
model.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
path = os.path.join(tempfile.mkdtemp(), "model.keras")
model.save(path)
loaded = keras.saving.load_model(path)
report["loaded_class"] = type(loaded.optimizer).__name__
for m in (model, loaded):
    m.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
pairs = list(zip(model.get_weights() + [v.numpy() for v in model.optimizer.variables],
                 loaded.get_weights() + [v.numpy() for v in loaded.optimizer.variables]))
report["continued_identically"] = all(np.array_equal(a, b) for a, b in pairs)
report["variables_compared"] = len(pairs)
print(json.dumps(report))
"""


def installed(backend: str) -> bool:
    return importlib.util.find_spec(backend) is not None


@pytest.mark.parametrize("backend", ["torch", "jax", "tensorflow"])
def test_backend_trains_compiled_as_keras(backend):
    if not installed(backend):
        pytest.skip(f"{backend} is not installed")
    env = {**os.environ, "KERAS_BACKEND": backend, "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stderr[-5000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == backend
    expected = {"Adam", "AdamW", "Adamax", "Nadam", "SGD", "RMSprop", "Adagrad", "Adadelta", "RAdam", "SWATS"}
    assert expected <= set(report["diffs"])
    if backend != "jax":
        assert {"Adam, jit_compile", "RAdam, jit_compile", "SWATS, jit_compile"} <= set(report["diffs"])
    for name, diff in report["diffs"].items():
        assert diff < 1e-4, (name, diff)
    assert report["swats_switched"] > 0  # the SGD phase ran too
    if backend == "torch":  # [graph breaks, graphs] as few as for Keras's own Adam
        keras_counts = report["dynamo"].pop("keras_adam")
        assert len(report["dynamo"]) == 3
        for name, counts in report["dynamo"].items():
            assert counts[0] <= keras_counts[0] and counts[1] <= keras_counts[1], (name, counts, keras_counts)
    assert report["loaded_class"] == "SWATS"
    assert report["continued_identically"] and report["variables_compared"] > 4
