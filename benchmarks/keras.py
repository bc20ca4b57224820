"""``make bench``: an epoch of the articles' Keras MLP, adamkit.keras.Adam against keras.optimizers.Adam.

The articles' model (Flatten 28x28, Dense 128 ReLU, Dense 10 softmax; categorical
cross-entropy, accuracy; batch 32) under each backend's default ``model.compile``
(TensorFlow: a ``tf.function`` graph, JAX: ``jax.jit``, torch: eager), and TensorFlow
with XLA and torch with ``jit_compile=True`` where asked. Keras picks its backend at
import, so each backend runs in a child process of its own. In a child, each optimizer
gets its own model (the same start), one warm-up epoch (tracing, compiling), then the
two take turns epoch by epoch (A B, B A, ...) and each row reports the median epoch.
The data are random MNIST-shaped images (the time does not depend on the values),
``--samples`` of them (default 48,000: MNIST's 60,000 less the articles' 0.2 validation split).

Usage:
    python benchmarks/keras.py                          # every installed backend, 5 rounds
    python benchmarks/keras.py --backends jax --rounds 3 --samples 9600
    python benchmarks/keras.py --jit                    # also TF with XLA, torch with torch.compile
    python benchmarks/keras.py --backends torch --threads 1   # torch on one thread

On a machine shared with other jobs the wall times swing from epoch to epoch; the CPU time of
the process (the last column's ratio) counts only the time it ran, so it is the steadier
comparison there, on one thread especially (two threads that wait for each other spin).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")


def child(samples: int, rounds: int, jit_compile: bool, threads: int = 0) -> dict:
    """In a process whose ``KERAS_BACKEND`` is set: the median epoch of each optimizer, in seconds
    of wall time, and (``cpu:`` keys) of this process's CPU time."""
    import keras
    import numpy as np

    if threads and keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(threads)

    import adamkit.keras

    rng = np.random.default_rng(0)
    x = rng.random((samples, 28, 28), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 10, samples), 10)

    def model_for(optimizer):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((28, 28)),
                keras.layers.Flatten(),
                keras.layers.Dense(128, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        compile_options = {"jit_compile": True} if jit_compile else {}
        model.compile(
            optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"], **compile_options
        )
        return model

    def epoch(model) -> tuple[float, float]:
        start, cpu_start = time.perf_counter(), time.process_time()
        model.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
        return time.perf_counter() - start, time.process_time() - cpu_start

    models = {
        "keras.optimizers.Adam": model_for(keras.optimizers.Adam(learning_rate=0.001)),
        "adamkit.keras.Adam": model_for(adamkit.keras.Adam(learning_rate=0.001)),
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
    for model in models.values():
        epoch(model)  # warm-up: tracing and compiling
    names = list(models)
    for r in range(rounds):
        for name in names[r % 2 :] + names[: r % 2]:
            times[name].append(epoch(models[name]))
    medians = {name: statistics.median(wall for wall, _ in t) for name, t in times.items()}
    return medians | {f"cpu:{name}": statistics.median(cpu for _, cpu in t) for name, t in times.items()}


def run_backend(backend: str, samples: int, rounds: int, jit_compile: bool, threads: int = 0) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    # The child loads this file by path: run as a module, its name (keras.py) would shadow Keras.
    script = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('keras_bench', {os.path.abspath(__file__)!r})\n"
        "bench = importlib.util.module_from_spec(spec); spec.loader.exec_module(bench)\n"
        f"print(json.dumps(bench.child({samples}, {rounds}, {jit_compile}, {threads})))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{backend}: {result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--samples", type=int, default=48_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jit", action="store_true", help="also TF with XLA and torch with torch.compile")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch's thread count (default: torch's own, the cores)"
    )
    args = parser.parse_args(argv)

    print(f"# {datetime.date.today()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"# articles' MLP, batch 32, {args.samples} samples an epoch, median of {args.rounds} epochs")
    if args.threads:
        print(f"# torch backend on {args.threads} thread(s)")
    columns = "keras.optimizers.Adam (s) | adamkit.keras.Adam (s) | ratio | CPU time ratio"
    print(f"| backend | compile | {columns} |")
    print("|---|---|---|---|---|---|")
    for backend in args.backends.split(","):
        if importlib.util.find_spec(backend) is None:
            print(f"| {backend} | not installed | | | | |")
            continue
        modes = [False] + ([True] if args.jit and backend != "jax" else [])
        for jit_compile in modes:
            times = run_backend(backend, args.samples, args.rounds, jit_compile, args.threads)
            theirs, ours = times["keras.optimizers.Adam"], times["adamkit.keras.Adam"]
            cpu_ratio = times["cpu:adamkit.keras.Adam"] / times["cpu:keras.optimizers.Adam"]
            mode = "jit_compile=True" if jit_compile else "default"
            row = f"| {backend} | {mode} | {theirs:.2f} | {ours:.2f} | {ours / theirs:.2f}x"
            print(f"{row} | {cpu_ratio:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
