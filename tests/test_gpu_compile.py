"""Every Triton kernel compiles for an NVIDIA GPU (H100/H200: sm_90), here, without one.

Triton's interpreter (``test_gpu_kernels.py``, ``test_gpu_lowbit.py``) checks what the
kernels compute but runs them as NumPy: it accepts code that Triton's compiler would
reject. ``compile_triton.py`` drives the optimizers through the GPU launchers and compiles
each launch's kernel with its own arguments and options, down to machine code (Triton
bundles ``ptxas``); this test reads what came out. Skipped where Triton is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("triton")
pytest.importorskip("numba")

from adamkit.torch.gpu import FAMILIES  # noqa: E402

#: Adafactor's passes (its own engine, not in FAMILIES: :mod:`adamkit.torch.gpu.adafactor`)
ADAFACTOR = {"matrix_sums_kernel", "matrix_update_kernel", "vector_sums_kernel", "vector_apply_kernel"}

SCRIPT = Path(__file__).with_name("compile_triton.py")


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> list[dict]:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}  # the compiler, not NumPy
    env["TRITON_CACHE_DIR"] = str(tmp_path_factory.mktemp("triton-cache"))
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--arch", "90"], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_family_compiles_to_machine_code(compiled):
    names = {kernel["name"] for kernel in compiled}
    families = {target.split(":")[1] for target in FAMILIES.values()} | ADAFACTOR
    assert families | {"adam8_kernel", "adam16_kernel", "tensor_sums_kernel"} <= names
    assert all(kernel["cubin_bytes"] > 10_000 for kernel in compiled)
    fp64 = {kernel["name"] for kernel in compiled if "*fp64" in kernel["pointers"]}
    assert families <= fp64  # float64 parameters too


def test_no_fused_multiply_add_and_no_approximate_division(compiled):
    """Each operation rounds as on the CPU: no FMA (``launch.NO_FMA``), IEEE division and square root."""
    for kernel in compiled:
        ops = kernel["ptx"]
        assert kernel["options"] == {"enable_fp_fusion": False}, kernel["name"]
        assert ops["fma"] == 0, kernel["name"]
        assert ops["div.full"] == ops["div.approx"] == ops["sqrt.approx"] == ops["rcp.approx"] == 0
        # every other rule divides (Lion's count and the per-tensor sums only compare and add)
        adds = ("sgd_kernel", "lion_kernel", "lion_count_kernel", "tensor_sums_kernel", "matrix_sums_kernel")
        if kernel["name"] not in adds:
            assert ops["div.rn"] > 0, kernel["name"]
        # subnormals flushed to zero only by the 8-bit encoder's floor, whose argument is never
        # subnormal (at least an ulp of a decade's start, over its bin width) and whose negative
        # results are clamped to 0 after
        assert ops[".ftz"] == ops["cvt.rmi.ftz"], kernel["name"]
        assert ops[".ftz"] == 0 or kernel["name"] == "adam8_kernel"
