"""How far low-bit Adam's stored moments stray from float64 Adam's on the same gradients.

Issue 15, item 4 (bfloat16 quality): each coordinate's gradient is ``(mu + z) * s`` with
``z`` standard normal each step, ``mu`` a fixed offset (so ``m`` has a signal) and ``s``
a fixed scale spread over decades. The optimizers (32/16/8 bits, lr tiny so the
parameters barely move) see the same gradients as a float64 Adam; at checkpoints it prints
the stored ``v``'s relative error (rms over coordinates, and its mean: the bias), ``m``'s
error relative to ``|m|``, and the bias-corrected update ``m / sqrt(v)``'s.

    python experiments/bf16_tracking.py --steps 3000 --size 65536 [--reference]
"""

from __future__ import annotations

import argparse

import torch

import adamkit.torch as ak
from adamkit.torch.lowbit import full_precision_state_dict


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--size", type=int, default=1 << 16)
    parser.add_argument("--bits", default="32,16,8")
    parser.add_argument("--reference", action="store_true", help="the reference path (fused=False)")
    args = parser.parse_args()
    torch.manual_seed(0)
    scale = torch.exp(torch.randn(args.size) * 2)
    offset = torch.randn(args.size) * 0.3
    runs = {}
    for bits in map(int, args.bits.split(",")):
        w = torch.nn.Parameter(torch.zeros(args.size))
        runs[bits] = (w, ak.Adam([w], lr=1e-9, state_bits=bits, fused=not args.reference))
    b1, b2 = 0.9, 0.999
    m64 = torch.zeros(args.size, dtype=torch.float64)
    v64 = torch.zeros(args.size, dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    marks = {10, 100, 300, 1000, 2000, 3000, 5000, 8000, args.steps}
    for t in range(1, args.steps + 1):
        g = (offset + torch.randn(args.size, generator=gen)) * scale
        m64.mul_(b1).add_(g.double(), alpha=1 - b1)
        v64.mul_(b2).addcmul_(g.double(), g.double(), value=1 - b2)
        for w, opt in runs.values():
            w.grad = g.clone()
            opt.step()
        if t not in marks or t > args.steps:
            continue
        row = [f"step {t:5d}"]
        exact = (m64 / (1 - b1**t)) / (v64 / (1 - b2**t)).sqrt()
        for bits, (_, opt) in runs.items():
            state = full_precision_state_dict(opt.state_dict())["state"][0]
            m, v = state["exp_avg"].double(), state["exp_avg_sq"].double()
            v_error = (v - v64) / v64
            update = (m / (1 - b1**t)) / (v / (1 - b2**t)).sqrt()
            row.append(
                f"{bits:2d}-bit: v {v_error.pow(2).mean().sqrt():.2%} (bias {v_error.mean():+.2%}),"
                f" m {(m - m64).norm() / m64.norm():.2%}, update {(update - exact).norm() / exact.norm():.2%}"
            )
        print(" | ".join(row), flush=True)


if __name__ == "__main__":
    main()
