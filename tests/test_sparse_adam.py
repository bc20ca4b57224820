"""Sparse gradients in adamkit.torch.Adam against torch.optim.SparseAdam (float64, <= 1e-12).

Only the rows present in a gradient move, and only their moments decay; ``step``
counts every step. Adam's options that need every row (weight decay, AMSGrad) and the
other optimizers refuse sparse gradients with an error naming themselves.
"""

from __future__ import annotations

import io

import pytest
import torch

import adamkit.torch as ak
from harness import rel_diff, training

pytestmark = pytest.mark.usefixtures("float64_default")

ROWS, DIM = 30, 4


def lookups(step: int) -> torch.Tensor:
    """The rows a batch touches: a few, with repeats (summed by coalescing); none on step 7."""
    if step == 7:
        return torch.zeros(0, dtype=torch.long)
    gen = torch.Generator().manual_seed(step)
    return torch.randint(0, ROWS // 2 if step % 2 else ROWS, (6,), generator=gen)


def target(step: int, n: int) -> torch.Tensor:
    return torch.randn(n, DIM, generator=torch.Generator().manual_seed(500 + step))


def train_embedding(factory, steps: int = 50, **kwargs):
    torch.manual_seed(0)
    emb = torch.nn.Embedding(ROWS, DIM, sparse=True)
    opt = factory(emb.parameters(), **kwargs)
    for step in range(steps):
        idx = lookups(step)
        opt.zero_grad()
        ((emb(idx) - target(step, len(idx))) ** 2).sum().backward()
        assert emb.weight.grad.is_sparse
        opt.step()
    return emb.weight, opt


@pytest.mark.parametrize(
    "kwargs",
    [dict(lr=0.05), dict(lr=0.05, maximize=True), dict(lr=0.01, betas=(0.5, 0.9), eps=1e-3)],
    ids=repr,
)
@pytest.mark.parametrize("fused", [None, False], ids=["default-engine", "reference-engine"])
def test_embedding_equals_sparse_adam(kwargs, fused):
    wa, a = train_embedding(ak.Adam, fused=fused, **kwargs)
    wb, b = train_embedding(torch.optim.SparseAdam, **kwargs)
    assert rel_diff(wa.detach(), wb.detach()) <= 1e-12
    sa, sb = a.state[wa], b.state[wb]
    assert float(sa["step"]) == sb["step"] == 50  # the empty step 7 counts too
    for key in ("exp_avg", "exp_avg_sq"):
        assert rel_diff(sa[key], sb[key]) <= 1e-12, key


def test_only_the_rows_present_move():
    torch.manual_seed(0)
    emb = torch.nn.Embedding(ROWS, DIM, sparse=True)
    opt = ak.Adam(emb.parameters(), lr=0.1)
    emb(torch.tensor([2, 5, 5])).sum().backward()
    opt.step()
    before = {k: v.clone() for k, v in opt.state[emb.weight].items()}
    weight = emb.weight.detach().clone()
    opt.zero_grad()
    emb(torch.tensor([5, 9])).sum().backward()
    opt.step()
    state = opt.state[emb.weight]
    moved = (emb.weight.detach() != weight).any(dim=1).nonzero().flatten().tolist()
    assert moved == [5, 9]
    for key in ("exp_avg", "exp_avg_sq"):
        changed = (state[key] != before[key]).any(dim=1).nonzero().flatten().tolist()
        assert changed == [5, 9], key  # row 2 keeps its (stale) moments: lazy, as SparseAdam
    assert float(state["step"]) == 2


def test_dense_and_sparse_parameters_in_one_optimizer():
    """An embedding (sparse grads) and a linear layer (dense) in one group: the embedding
    follows SparseAdam, the linear layer Adam."""

    def build():
        torch.manual_seed(0)
        return torch.nn.Embedding(ROWS, DIM, sparse=True), torch.nn.Linear(DIM, 1)

    def loss(emb, lin, step):
        idx = lookups(step)
        return ((lin(emb(idx)) - target(step, len(idx))[:, :1]) ** 2).sum()

    emb_a, lin_a = build()
    ours = ak.Adam([*emb_a.parameters(), *lin_a.parameters()], lr=0.02)
    emb_b, lin_b = build()
    sparse = torch.optim.SparseAdam(emb_b.parameters(), lr=0.02)
    dense = torch.optim.Adam(lin_b.parameters(), lr=0.02)
    for step in range(50):
        for opts, (emb, lin) in (((ours,), (emb_a, lin_a)), ((sparse, dense), (emb_b, lin_b))):
            for o in opts:
                o.zero_grad()
            loss(emb, lin, step).backward()
            for o in opts:
                o.step()
    pairs = [(emb_a.weight, emb_b.weight, sparse), (lin_a.weight, lin_b.weight, dense)]
    pairs.append((lin_a.bias, lin_b.bias, dense))
    for pa, pb, theirs in pairs:
        assert rel_diff(pa.detach(), pb.detach()) <= 1e-12
        for key in ("exp_avg", "exp_avg_sq"):
            assert rel_diff(ours.state[pa][key], theirs.state[pb][key]) <= 1e-12, key


def test_sparse_adam_checkpoint_loads_into_adam():
    wb, b = train_embedding(torch.optim.SparseAdam, steps=20, lr=0.05)
    torch.manual_seed(0)
    emb = torch.nn.Embedding(ROWS, DIM, sparse=True)
    with torch.no_grad():
        emb.weight.copy_(wb)
    a = ak.Adam(emb.parameters(), lr=0.05)
    buf = io.BytesIO()  # a checkpoint on disk, as users move them (no tensors shared)
    torch.save(b.state_dict(), buf)
    buf.seek(0)
    a.load_state_dict(torch.load(buf, weights_only=True))
    for step in range(20, 40):
        for weight, module_opt in ((emb.weight, a), (wb, b)):
            module_opt.zero_grad()
            idx = lookups(step)
            rows = torch.nn.functional.embedding(idx, weight, sparse=True)
            ((rows - target(step, len(idx))) ** 2).sum().backward()
            module_opt.step()
    assert rel_diff(emb.weight.detach(), wb.detach()) <= 1e-12


def sparse_step(opt_cls, **kwargs):
    emb = torch.nn.Embedding(5, 2, sparse=True)
    opt = opt_cls(emb.parameters(), **kwargs)
    training(opt)
    emb(torch.tensor([1, 3])).sum().backward()
    opt.step()


@pytest.mark.parametrize(
    "kwargs,word",
    [(dict(weight_decay=0.1), "weight_decay=0"), (dict(amsgrad=True), "amsgrad")],
)
def test_adam_options_needing_every_row_are_refused(kwargs, word):
    with pytest.raises(ValueError, match=f"Adam with sparse gradients .*{word}"):
        sparse_step(ak.Adam, **kwargs)


def test_adamw_with_decay_is_refused():
    with pytest.raises(ValueError, match="AdamW with sparse gradients needs weight_decay=0"):
        sparse_step(ak.AdamW)


OTHERS = [
    name
    for name in ak.__all__
    if isinstance(getattr(ak, name), type)
    and issubclass(getattr(ak, name), ak.RuleOptimizer)
    and getattr(ak, name) is not ak.RuleOptimizer
    and getattr(ak, name).rule.sparse_hyper is None
]


def test_others_exist():
    assert "SWATS" in OTHERS and "Adam" not in OTHERS


@pytest.mark.parametrize("name", OTHERS)
def test_other_optimizers_refuse_sparse_gradients_by_name(name):
    with pytest.raises(ValueError, match=f"^{name} does not support sparse gradients"):
        sparse_step(getattr(ak, name))
