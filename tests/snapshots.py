"""Bit-exact snapshots of an optimizer and its parameters: what a failed call must leave as it was."""

from __future__ import annotations

import torch


def snapshot(opt, params):
    """Parameters, state (bits and dtypes) and groups (hyperparameters, sizes) of ``opt``, copied."""
    state = {
        i: {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in opt.state.get(p, {}).items()}
        for i, p in enumerate(params)
    }
    groups = [
        {k: v for k, v in g.items() if k != "params"} | {"n": len(g["params"])} for g in opt.param_groups
    ]
    return [p.detach().clone() for p in params], state, groups


def bits_equal(x: torch.Tensor, y: torch.Tensor) -> bool:
    """Same dtype, shape and bytes (a NaN equals the same NaN, 0.0 differs from -0.0)."""
    if x.dtype != y.dtype or x.shape != y.shape:
        return False
    as_bytes = lambda t: t.detach().cpu().contiguous().reshape(-1).view(torch.uint8)  # noqa: E731
    return torch.equal(as_bytes(x), as_bytes(y))


def assert_same(a, b):
    """Two snapshots are equal bit for bit, dtypes included."""
    (pa, sa, ga), (pb, sb, gb) = a, b
    assert ga == gb
    for i, (x, y) in enumerate(zip(pa, pb, strict=True)):
        assert bits_equal(x, y), f"param {i}"
    assert sa.keys() == sb.keys()
    for i in sa:
        assert sa[i].keys() == sb[i].keys(), i
        for key, value in sa[i].items():
            other = sb[i][key]
            if isinstance(value, torch.Tensor):
                assert isinstance(other, torch.Tensor) and bits_equal(value, other), (i, key)
            else:
                assert value == other, (i, key)
