"""Compile adamkit's Triton kernels for an NVIDIA GPU on a machine without one; print what they became.

Run by ``test_gpu_compile.py`` in a process of its own (Triton must not be in interpreter
mode). The optimizers step CPU tensors through the GPU launchers, as they would CUDA
tensors; each launch, instead of running, compiles its kernel with the launch's own
arguments and options for ``--arch`` (Triton's compiler and its bundled ``ptxas``). Prints
a JSON list: per compiled kernel, its name, switches, the PTX instructions counted by
kind, and the machine code's size.

Usage: python tests/compile_triton.py --arch 90
"""

from __future__ import annotations

import argparse
import json
import re

import torch
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from triton.runtime.jit import JITFunction

import adamkit.torch as ak
from adamkit.torch import fused, fused_adafactor
from adamkit.torch.lowbit import fused as lowbit_fused

# each family once with every switch on (L2 decay, AMSGrad, centered, ...): the most code
CASES = [
    ("Adam", {"amsgrad": True, "weight_decay": 0.1}, 32),
    ("Adamax", {"weight_decay": 0.1}, 32),
    ("NAdam", {"weight_decay": 0.1}, 32),
    ("RAdam", {"weight_decay": 0.1}, 32),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}, 32),
    ("RMSprop", {"centered": True, "momentum": 0.9, "weight_decay": 0.1}, 32),
    ("Adagrad", {"weight_decay": 0.1}, 32),
    ("Lion", {"weight_decay": 0.1}, 32),
    ("AdaBelief", {"amsgrad": True, "weight_decay": 0.1}, 32),
    ("AdEMAMix", {"weight_decay": 0.1}, 32),
    ("ScheduleFreeAdamW", {"weight_decay": 0.1}, 32),
    # the two-pass families: first pass (sums per program), the per-tensor sums, second pass
    ("LAMB", {"weight_decay": 0.1}, 32),
    ("Adam", {"amsgrad": True, "weight_decay": 0.1, "cautious": True}, 32),
    ("Lion", {"weight_decay": 0.1, "cautious": True}, 32),
    ("AdEMAMix", {"weight_decay": 0.1, "cautious": True}, 32),
    ("Adam", {"amsgrad": True, "weight_decay": 0.1}, 8),
    ("Adam", {"amsgrad": True, "weight_decay": 0.1}, 16),
]
POINTEE = {torch.float32: "fp32", torch.float64: "fp64", torch.int64: "i64", torch.int32: "i32"}
#: PTX instructions counted, by what their names start with
COUNTED = ["fma", "div.rn", "div.full", "div.approx", "sqrt.rn", "sqrt.approx", "rcp.approx", "ld.global"]
COUNTED += [".ftz", "cvt.rmi.ftz"]  # flushing subnormals to zero, of any instruction; of floor


def signature(kernel: JITFunction, args: tuple, kwargs: dict) -> tuple[dict, dict]:
    """Triton's signature and constexprs of a launch with ``args`` and ``kwargs``."""
    bound = dict(zip([p.name for p in kernel.params], args, strict=False)) | kwargs
    types, constants = {}, {}
    for param in kernel.params:
        value = bound[param.name]
        if param.is_constexpr:
            types[param.name], constants[param.name] = "constexpr", value
        elif isinstance(value, torch.Tensor):
            types[param.name] = "*" + POINTEE[value.dtype]
        elif isinstance(value, bool):
            types[param.name] = "i1"
        else:
            types[param.name] = "i32" if -(2**31) <= value < 2**31 else "i64"
    return types, constants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arch", type=int, default=90, help="CUDA compute capability, as 80 or 90")
    target = GPUTarget("cuda", parser.parse_args().arch, 32)
    compiled: list[dict] = []

    def compile_instead(self, *args, grid, warmup, **kwargs):
        options = {k: kwargs.pop(k) for k in ("enable_fp_fusion", "num_warps") if k in kwargs}
        types, constants = signature(self, args, kwargs)
        kernel = triton.compile(ASTSource(self, types, constants), target=target, options=options)
        ptx = kernel.asm["ptx"]
        compiled.append(
            {
                "name": self.__name__,
                "switches": {k: v for k, v in constants.items() if isinstance(v, bool)},
                "pointers": sorted({t for t in types.values() if t.startswith("*")}),
                "options": options,
                "ptx": {op: len(re.findall(rf"(?m)^\s*\S*{re.escape(op)}\.", ptx)) for op in COUNTED},
                "cubin_bytes": len(kernel.asm["cubin"]),
            }
        )

    JITFunction.run = compile_instead
    fused.LAUNCHERS["cpu"] = "adamkit.torch.gpu.launch:launch"
    lowbit_fused.LAUNCHERS["cpu"] = "adamkit.torch.gpu.lowbit:launch"
    for algo, kwargs, bits in CASES:
        for dtype in (torch.float32, torch.float64) if bits == 32 else (torch.float32,):
            param = torch.zeros(5000, dtype=dtype, requires_grad=True)
            param.grad = torch.ones_like(param)
            opt = getattr(ak, algo)([param], state_bits=bits, **kwargs)
            if algo == "ScheduleFreeAdamW":  # it steps in train mode only
                opt.train()
            opt.step()
    # Adafactor's own engine: a matrix's passes and a vector's
    fused_adafactor.RUNNERS["cpu"] = "adamkit.torch.gpu.adafactor:run_passes"
    for dtype in (torch.float32, torch.float64):
        params = [torch.zeros(shape, dtype=dtype, requires_grad=True) for shape in [(50, 200), (5000,)]]
        for param in params:
            param.grad = torch.ones_like(param)
        ak.Adafactor(params, weight_decay=0.1).step()
    print(json.dumps(compiled))


if __name__ == "__main__":
    main()
