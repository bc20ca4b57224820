"""The low-bit Triton kernels (:mod:`adamkit.torch.gpu.lowbit`) against the numba kernels.

Both run the same optimizer steps; the stored bits (parameters, codes, scales, bfloat16
moments) must be the same. The Triton kernels run on a CUDA device where there is one (the
same IEEE operations as the CPU's, compiled without FMAs), else in Triton's interpreter
(``TRITON_INTERPRET=1``, set by ``conftest.py``) on the CPU, the low-bit engine's CPU
launcher swapped for the Triton one, so that both read the same tables. Skipped where
Triton is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("triton")
pytest.importorskip("numba")

import adamkit.torch as ak  # noqa: E402
from adamkit.torch.gpu import lowbit as triton_lowbit  # noqa: E402
from adamkit.torch.lowbit import engine, fused  # noqa: E402
from adamkit.torch.lowbit.dynamic_map import SIGNED, UNSIGNED  # noqa: E402
from triton_cases import ADAM_CASES, TRITON_DEVICE  # noqa: E402

# a tail of 136 values; one program; two programs and a partial block; 4 blocks of 5 rows each
SIZES = [(5000,), (64, 70), (4096 + 1030,), (1024, 5)]
STEPS = 4


def run(algo: str, kwargs: dict, bits: int, engine_name: str, monkeypatch) -> tuple[list, list]:
    """Parameters and state after ``STEPS`` steps on fixed gradients, with the cases a codec must
    treat apart: in the first tensor, a block of zero gradients (scale 0) and one of 1e-20 (``v``'s
    scale subnormal: a division); a NaN at step 2 in the third (its own code from then on)."""
    device = TRITON_DEVICE if engine_name == "triton" else "cpu"
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(s, generator=gen).to(device).requires_grad_() for s in SIZES]
    grads = [[(torch.randn(s, generator=gen) * 1e-2).to(device) for s in SIZES] for _ in range(STEPS)]
    for step in grads:
        step[0][:300] = 0.0
        step[0][512:768] = 1e-20
    grads[2][2][700] = float("nan")
    with monkeypatch.context() as patch:
        if engine_name == "triton" and device == "cpu":
            patch.setitem(fused.LAUNCHERS, "cpu", "adamkit.torch.gpu.lowbit:launch")
        patch.setattr(engine, "step_reference", refuse)  # every tensor on the kernels
        opt = getattr(ak, algo)(params, state_bits=bits, **kwargs)
        for k in range(STEPS):
            for p, g in zip(params, grads[k], strict=True):
                p.grad = g.clone()
            opt.step()
    state = [sorted((k, v.cpu()) for k, v in opt.state[p].items() if torch.is_tensor(v)) for p in params]
    return [p.detach().cpu() for p in params], state


def refuse(*args):
    raise AssertionError("the low-bit engine handed a tensor to the reference path")


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("algo, kwargs", ADAM_CASES, ids=[f"{a}-{k}" for a, k in ADAM_CASES])
def test_triton_low_bit_kernels_store_the_numba_kernels_bits(algo, kwargs, bits, monkeypatch):
    triton_params, triton_state = run(algo, kwargs, bits, "triton", monkeypatch)
    numba_params, numba_state = run(algo, kwargs, bits, "numba", monkeypatch)
    for a, b in zip(triton_params, numba_params, strict=True):
        assert same_values(a, b)
    states = []
    for mine, theirs in zip(triton_state, numba_state, strict=True):
        assert [k for k, _ in mine] == [k for k, _ in theirs]
        for (key, x), (_, y) in zip(mine, theirs, strict=True):
            assert same_bits(x, y), key
        states.append(dict(mine))
    moments = ["exp_avg", "exp_avg_sq"] + ["max_exp_avg_sq"] * kwargs.get("amsgrad", False)
    stored = [m + "_codes" for m in moments] + [m + "_absmax" for m in moments] if bits == 8 else moments
    assert sorted(states[0]) == sorted(stored + ["step"])
    if bits == 8 and not (algo == "Adam" and kwargs.get("weight_decay")):  # (L2 adds to the gradient)
        codes, scales = states[0]["exp_avg_sq_codes"], states[0]["exp_avg_sq_absmax"]
        assert (codes[:256] == 0).all() and (codes[300:] != 0).float().mean() > 0.99
        assert 0 < scales[2] < 2**-126  # the subnormal scale's block
    if bits == 8:  # the NaN keeps its own code; its block's scales stay finite
        assert all(s.isfinite().all() for k, s in states[2].items() if k.endswith("_absmax"))
        assert states[2]["exp_avg_codes"].reshape(-1)[700] == 0x80
    nan_params = triton_params[2].isnan().nonzero().flatten().tolist()
    assert nan_params == [700]  # as torch.optim: the NaN gradient's parameter only


def same_bits(x: torch.Tensor, y: torch.Tensor) -> bool:
    """Equal dtypes, shapes and bits (NaN too)."""
    return (
        x.dtype == y.dtype
        and x.shape == y.shape
        and torch.equal(x.reshape(-1).view(torch.uint8), y.reshape(-1).view(torch.uint8))
    )


def same_values(x: torch.Tensor, y: torch.Tensor) -> bool:
    """Equal bits but for NaN payloads: NaN in the same places. A GPU's arithmetic makes the
    canonical NaN (0x7FFFFFFF), a CPU's keeps its operand's payload (0x7FC00000); the codes that
    stand for NaN in the state are still compared bit for bit."""
    nan = x.isnan()
    return torch.equal(nan, y.isnan()) and same_bits(x.masked_fill(nan, 0.0), y.masked_fill(nan, 0.0))


def test_the_kernels_read_the_maps_of_the_codecs():
    """The constants table holds each map's decode table and rounding constants where the kernels look."""
    for k, cmap in enumerate((SIGNED, UNSIGNED)):
        constants = triton_lowbit.CONSTANTS[k * triton_lowbit.MAP_SIZE : (k + 1) * triton_lowbit.MAP_SIZE]
        assert np.array_equal(constants[: cmap.decode.size], cmap.decode, equal_nan=True)
        for offset, values in (
            (triton_lowbit.CUT, cmap.cuts),
            (triton_lowbit.START, cmap.starts),
            (triton_lowbit.INV_WIDTH, cmap.inv_widths),
            (triton_lowbit.TOP, cmap.tops),
        ):
            assert np.array_equal(constants[offset : offset + values.size], values)
