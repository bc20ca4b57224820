"""Low-bit state on real training: no step larger than 1.5 times the largest 32-bit step.

Issue 15 saw it on the articles' MLP on Fashion-MNIST (border pixels: first-layer weights jumped
hundreds of times the learning rate in one step, their second moments rounded to zero) and on
embedding tables (rare tokens' rows). Each run here trains the same model from the same start on
the same batches at 32, 16 and 8 bits and records the largest change of any weight in one step.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import adamkit.torch as ak
from adamkit.data import DataError, load

STEPS = 600


def largest_steps(make_model, batches, parameter: str, bits: int) -> float:
    """The largest one-step change of ``parameter``'s values over the run (Adam, lr 1e-3)."""
    torch.manual_seed(0)
    model = make_model()
    opt = ak.Adam(model.parameters(), lr=1e-3, state_bits=bits)
    watched = dict(model.named_parameters())[parameter]
    largest = 0.0
    for x, y in batches:
        before = watched.detach().clone()
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        largest = max(largest, (watched.detach() - before).abs().max().item())
    assert all(torch.isfinite(p).all() for p in model.parameters())
    return largest


def check(make_model, batches, parameter: str) -> None:
    full = largest_steps(make_model, batches, parameter, 32)
    for bits in (16, 8):
        low = largest_steps(make_model, batches, parameter, bits)
        assert low <= 1.5 * full, f"{bits}-bit: largest step {low:.3g}, 32-bit {full:.3g}"


def article_mlp() -> nn.Module:
    """The articles' model: Flatten, Dense(128, relu), Dense(10)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


@pytest.mark.slow
def test_fashion_mnist_mlp_first_layer_steps(one_torch_thread):
    try:
        ds = load("fashion-mnist", validation=0.0, download=False)
    except DataError as error:
        pytest.skip(str(error).split(".")[0])
    gen = np.random.default_rng(0)
    order = gen.permutation(len(ds.x_train))[: 32 * STEPS].reshape(STEPS, 32)
    x, y = torch.from_numpy(ds.x_train), torch.from_numpy(ds.y_train)
    check(article_mlp, [(x[i], y[i]) for i in torch.from_numpy(order)], "1.weight")


class BagOfEmbeddings(nn.Module):
    def __init__(self, vocab: int, dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim)
        self.head = nn.Linear(dim, 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(tokens).mean(dim=1))


@pytest.mark.slow
def test_embedding_with_zipf_tokens(one_torch_thread):
    """Tokens drawn from a Zipf law (exponent 1.1, 4000 words): most rows get a gradient rarely,
    next to rows that get one every step, in the same blocks of 256 values."""
    vocab, dim = 4000, 64
    gen = np.random.default_rng(1)
    weight = gen.standard_normal(vocab)
    tokens = np.minimum(gen.zipf(1.1, size=(STEPS, 32, 16)), vocab) - 1
    labels = (weight[tokens].sum(axis=-1) > 0).astype(np.int64)
    batches = [(torch.from_numpy(t), torch.from_numpy(lab)) for t, lab in zip(tokens, labels, strict=True)]
    check(lambda: BagOfEmbeddings(vocab, dim), batches, "embedding.weight")
