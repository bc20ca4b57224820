"""Training on a CUDA device the way users do: a compiled step (inductor), low-bit state, torch.optim.

The kernel tests (``test_gpu_kernels.py``, ``test_gpu_lowbit.py``) check the Triton kernels bit
for bit against the CPU's; these run whole training steps on the GPU: ``torch.compile`` with its
default backend around a step that calls ``opt.step()``, the 8-bit second moment that must not
round to zero (issue 15's loop), and a small classifier whose 16- and 8-bit runs must end where
torch.optim's 32-bit run ends. Skipped without a CUDA device and Triton (``sh
benchmarks/gpu_check.sh`` runs them on a lent GPU machine).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("triton")
if not torch.cuda.is_available():
    pytest.skip("needs a CUDA device", allow_module_level=True)

import adamkit.torch as ak  # noqa: E402

STEPS = 30


def classifier() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(256, 512),
        torch.nn.GELU(),
        torch.nn.Linear(512, 512),
        torch.nn.GELU(),
        torch.nn.Linear(512, 10),
    ).cuda()


def data() -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator(device="cuda").manual_seed(1)
    teacher = torch.randn(256, 10, device="cuda", generator=gen)
    xs = [torch.randn(128, 256, device="cuda", generator=gen) for _ in range(STEPS)]
    return [(x, (x @ teacher).argmax(1)) for x in xs]


def train(make_opt, compiled: bool) -> tuple[torch.nn.Module, torch.optim.Optimizer, list[float]]:
    torch._dynamo.reset()
    model = classifier()
    opt = make_opt(model.parameters())

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    if compiled:
        step = torch.compile(step)  # the default backend: inductor's Triton code for the model
    losses = [step(x, y).item() for x, y in data()]
    return model, opt, losses


@pytest.mark.parametrize("bits", [32, 16, 8])
def test_compiled_step_on_cuda_follows_eager_and_torch(bits):
    make = lambda ps: ak.AdamW(ps, lr=1e-3, weight_decay=0.01, state_bits=bits)  # noqa: E731
    model_c, opt_c, losses_c = train(make, compiled=True)
    model_e, _, losses_e = train(make, compiled=False)
    _, _, losses_t = train(
        lambda ps: torch.optim.AdamW(ps, lr=1e-3, weight_decay=0.01, fused=True), compiled=False
    )
    assert opt_c.engine == "fused"
    assert all(float(s["step"]) == STEPS for s in opt_c.state.values())
    # inductor's model code rounds unlike eager's, so compiled and eager runs agree to float32
    # noise; at 8 bits such noise can move a moment across a code boundary: a fraction of lr
    for p_c, p_e in zip(model_c.parameters(), model_e.parameters(), strict=True):
        torch.testing.assert_close(p_c, p_e, rtol=1e-3, atol=1e-3 if bits == 8 else 1e-4)
    assert losses_c[-1] < 0.8 * losses_c[0]  # it learns
    # and ends where torch.optim's 32-bit run ends: low-bit state costs at most a few percent of loss
    assert losses_c[-1] == pytest.approx(losses_t[-1], rel={32: 1e-2, 16: 5e-2, 8: 1e-1}[bits])
    if bits == 32:
        assert losses_e == pytest.approx(losses_t, rel=1e-4, abs=1e-5)


def test_eight_bit_second_moment_never_rounds_to_zero_on_cuda():
    """Issue 15's loop: a coordinate whose gradient stops while its block's absmax is large."""
    results = {}
    for bits in (32, 8):
        w = torch.nn.Parameter(torch.zeros(4096, device="cuda"))
        opt = ak.Adam([w], lr=1e-3, state_bits=bits)
        for step in range(1, 21):
            g = torch.zeros(4096, device="cuda")
            g[0] = 1.0
            if step <= 10:
                g[1] = 3e-4
            w.grad = g
            opt.step()
        results[bits] = float(w[1])
    assert results[32] == pytest.approx(-0.0159, abs=5e-4)
    assert -0.03 < results[8] < 0.0  # was -234.8: m / eps


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("Lion", {}),
        ("AdaBelief", {}),
        ("AdEMAMix", {}),
        ("LAMB", {"weight_decay": 0.01}),  # two passes: the trust ratio from sums kept on the device
        ("AdamW", {"cautious": True}),
        ("Lion", {"cautious": True}),
        ("ScheduleFreeAdamW", {}),
    ],
)
def test_modern_family_trains_on_cuda_like_on_the_cpu(name, kwargs):
    """The modern family's Triton kernels (default engine on CUDA) against the CPU's fused run."""
    runs = []
    for device in ("cuda", "cpu"):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.Tanh(), torch.nn.Linear(64, 4)).to(
            device
        )
        opt = getattr(ak, name)(model.parameters(), lr=1e-3, **kwargs)
        if name == "ScheduleFreeAdamW":  # it steps in train mode only
            opt.train()
        gen = torch.Generator().manual_seed(2)
        for _ in range(10):
            x, y = torch.randn(16, 32, generator=gen), torch.randn(16, 4, generator=gen)
            opt.zero_grad()
            F.mse_loss(model(x.to(device)), y.to(device)).backward()
            opt.step()
        assert opt.engine == "fused"
        runs.append([p.detach().cpu() for p in model.parameters()])
    for p_gpu, p_cpu in zip(*runs, strict=True):  # cuBLAS and MKL round the gradients differently
        torch.testing.assert_close(p_gpu, p_cpu, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("bits", [32, 16, 8])
def test_replayed_steps_on_cuda_are_the_general_steps(bits, monkeypatch):
    """The replay of a group's step (:mod:`adamkit.torch.replay`) on CUDA tables: the same bits with
    replays on and off, a scheduler changing lr, and the replays ran."""
    from adamkit.torch import fused
    from adamkit.torch.lowbit import engine as lowbit_engine

    def run(replay: bool):
        with monkeypatch.context() as patch:
            if not replay:
                patch.setattr(fused.FusedEngine, "keep_replay", lambda *a: None)
                patch.setattr(lowbit_engine.LowBitEngine, "keep_replay", lambda *a: None)
            gen = torch.Generator(device="cuda").manual_seed(3)
            shapes = [(256, 300), (300,), (7,)]
            params = [torch.nn.Parameter(torch.randn(s, device="cuda", generator=gen)) for s in shapes]
            opt = ak.AdamW(params, lr=1e-2, state_bits=bits)
            scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
            for _ in range(6):
                for p in params:
                    p.grad = torch.randn(p.shape, device="cuda", generator=gen)
                opt.step()
                scheduler.step()
            kept = [
                e.replays for e in (opt._engine, getattr(opt._engine, "full", None)) if hasattr(e, "replays")
            ]
            return params, opt, sum(map(len, kept))

    (ours, opt, kept), (theirs, ref, _) = run(True), run(False)
    assert kept > 0
    for p, q in zip(ours, theirs, strict=True):
        assert torch.equal(p, q)
        for key, value in ref.state[q].items():
            assert torch.equal(torch.as_tensor(opt.state[p][key]), torch.as_tensor(value)), key
