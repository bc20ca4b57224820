"""The low-bit state's error figures of the README, measured as ``tests/test_lowbit.py`` bounds them.

1. bitsandbytes' own test (``test_optimizer8bit``): shapes (1024, d), d in {32, 1024, 4097},
   50 steps of randn gradients against the 32-bit optimizer, which is re-synchronised to the
   low-bit one after every step, so each step's error is that step's alone: the parameters'
   mean absolute and mean relative error, and one step's rounding of each moment (sum of
   absolute errors over sum of magnitudes).
2. Drift: 1000 steps apart on one (128, 512) tensor, no re-synchronisation: mean absolute
   distance from the 32-bit parameters over the mean distance they travelled, after 10, 100, 1000.

Usage: ``python experiments/lowbit_errors.py`` (about a minute on one core).
"""

from __future__ import annotations

import statistics

import torch

import adamkit.torch as ak
from adamkit.torch.lowbit.state import ALL_MOMENTS, read_moment


def step_errors(bits: int, d: int) -> tuple[float, float, dict[str, float]]:
    gen = torch.Generator().manual_seed(d)
    p32 = torch.nn.Parameter(torch.randn(1024, d, generator=gen) * 0.1)
    plow = torch.nn.Parameter(p32.detach().clone())
    full, low = torch.optim.Adam([p32]), ak.Adam([plow], state_bits=bits)
    absolute, relative, moments = [], [], {}
    for _ in range(50):
        g = torch.randn(1024, d, generator=gen) * 0.01
        p32.grad, plow.grad = g.clone(), g.clone()
        full.step()
        low.step()
        err = (p32 - plow).abs()
        absolute.append(err.mean().item())
        relative.append((err / (p32.abs() + 1e-9)).mean().item())
        with torch.no_grad():
            p32.copy_(plow)
            for name in ALL_MOMENTS:
                value = read_moment(low.state[plow], name, torch.float32)
                if value is None:
                    continue
                exact = full.state[p32][name]
                error = ((value - exact).abs().sum() / exact.abs().sum()).item()
                moments[name] = max(moments.get(name, 0.0), error)
                exact.copy_(value)
    return statistics.fmean(absolute), statistics.fmean(relative), moments


def drift(bits: int) -> dict[int, float]:
    gen = torch.Generator().manual_seed(0)
    p32 = torch.nn.Parameter(torch.randn(128, 512, generator=gen) * 0.1)
    start = p32.detach().clone()
    plow = torch.nn.Parameter(p32.detach().clone())
    full, low = torch.optim.Adam([p32]), ak.Adam([plow], state_bits=bits)
    out = {}
    for t in range(1, 1001):
        g = torch.randn(128, 512, generator=gen) * 0.01
        p32.grad, plow.grad = g.clone(), g.clone()
        full.step()
        low.step()
        if t in (10, 100, 1000):
            out[t] = ((p32 - plow).abs().mean() / (p32 - start).abs().mean()).item()
    return out


def main() -> None:
    torch.set_num_threads(1)
    print("| bits | d | parameter error (mean abs) | mean relative | worst one-step moment rounding |")
    print("|---|---|---|---|---|")
    for bits in (8, 16):
        for d in (32, 1024, 4097):
            a, r, m = step_errors(bits, d)
            worst = ", ".join(f"{name} {100 * e:.2f} %" for name, e in m.items())
            print(f"| {bits} | {d} | {a:.2g} | {r:.2g} | {worst} |")
    for bits in (8, 16):
        figures = ", ".join(f"step {t}: {100 * f:.2f} %" for t, f in drift(bits).items())
        print(f"drift at {bits} bits (distance from 32-bit / distance travelled): {figures}")


if __name__ == "__main__":
    main()
