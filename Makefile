# Every target sets up .venv from nothing on a fresh machine (Python >= 3.10 needed).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/adamkit compare --data digits --model mlp --optimizers adam,sgd,adagrad,rmsprop --epochs 20 --seeds 3 --tune lr=1e-3:1:4 --threads 1 --out reports/demo --overwrite

test: $(STAMP)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m pytest -n 2 --durations=15

bench: $(STAMP)
	$(PY) benchmarks/run.py
	$(PY) benchmarks/small.py
	$(PY) benchmarks/recipe.py
	$(PY) benchmarks/lowbit.py
	$(PY) benchmarks/codec.py
	$(PY) benchmarks/memory.py
	$(PY) benchmarks/modern.py
	$(PY) benchmarks/pairs.py Adam Lion AdaBelief AdEMAMix ScheduleFreeAdamW
	$(PY) benchmarks/fsdp.py
	$(PY) benchmarks/gpu.py
	$(PY) benchmarks/keras.py --jit

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
