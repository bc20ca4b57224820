#!/bin/sh
# The GPU checks in one command, for a machine with a CUDA device, PyTorch, Triton and numba
# already installed (no set-up, no virtual environment): the GPU tests (the Triton kernels bit
# for bit against the CPU's, whole training steps, compiled ones too), then the GPU benchmark
# (Adam at 16M, 64M, GPT-2 small and a tiny GPT-2; the modern family's kernels, LAMB's and
# cautious AdamW's two passes included). Each part is
# bounded in time. Logs and the benchmark's JSON go to $OUT (else /tmp). A few minutes on an H200.
#
#   sh benchmarks/gpu_check.sh
set -u
out=${OUT:-/tmp}
export PYTHONPATH=src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$out/gpu-machine.log"
python3 -c "import torch, triton, numba; print('torch', torch.__version__, 'triton', triton.__version__, 'numba', numba.__version__)" 2>&1 | tee -a "$out/gpu-machine.log"
timeout 280 python3 -m pytest -p no:cacheprovider --tb=short -n 8 tests/test_gpu_kernels.py tests/test_gpu_lowbit.py \
    tests/test_gpu_training.py tests/test_lowbit_bounds.py::test_a_nan_gradient_spoils_one_parameter_in_the_triton_kernels \
    2>&1 | tee "$out/gpu-tests.log"
timeout 180 python3 benchmarks/gpu.py --sizes 16M,64M,gpt2,gpt2-mini --modern --json "$out/gpu.json" 2>&1 | tee "$out/gpu-bench.log"
