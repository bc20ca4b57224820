#!/bin/sh
# The GPU checks in one command, for a machine with a CUDA device, PyTorch, Triton and numba
# already installed (no set-up, no virtual environment): the GPU tests, then the GPU benchmark.
# Logs and the benchmark's JSON go to $OUT (else /tmp). About 5 minutes on an H100/H200.
#
#   sh benchmarks/gpu_check.sh
set -u
out=${OUT:-/tmp}
export PYTHONPATH=src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$out/gpu-machine.log"
python3 -c "import torch, triton, numba; print('torch', torch.__version__, 'triton', triton.__version__, 'numba', numba.__version__)" 2>&1 | tee -a "$out/gpu-machine.log"
python3 -m pytest -q tests/test_gpu_kernels.py tests/test_gpu_lowbit.py tests/test_gpu_compile.py 2>&1 | tee "$out/gpu-tests.log"
python3 benchmarks/gpu.py --json "$out/gpu.json" 2>&1 | tee "$out/gpu-bench.log"
