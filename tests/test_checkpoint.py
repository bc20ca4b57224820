"""save_checkpoint / load_checkpoint (issue 17): a resumed run equals the uninterrupted one, a kill
during the save leaves the last good file, and a checkpoint that does not fit changes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import adamkit.torch as ak
from snapshots import assert_same, snapshot

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def model_and_optimizer(seed: int = 0, bits: int = 8, algo: str = "AdamW"):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(64, 80), torch.nn.Tanh(), torch.nn.Linear(80, 1))
    return model, getattr(ak, algo)(model.parameters(), lr=1e-2, state_bits=bits)


def train(model, opt, steps: int, start: int = 0) -> None:
    for step in range(start, start + steps):
        gen = torch.Generator().manual_seed(step)
        x = torch.randn(16, 64, generator=gen)
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()


def test_resumed_run_equals_the_uninterrupted_one(tmp_path):
    model, opt = model_and_optimizer()
    train(model, opt, 3)
    ak.save_checkpoint(tmp_path / "run.pt", model=model, optimizer=opt, epoch=3, note="after warmup")
    resumed_model, resumed_opt = model_and_optimizer(seed=1)  # other weights: all must come from the file
    extra = ak.load_checkpoint(tmp_path / "run.pt", model=resumed_model, optimizer=resumed_opt)
    assert extra == {"epoch": 3, "note": "after warmup"}
    train(model, opt, 3, start=3)
    train(resumed_model, resumed_opt, 3, start=3)
    params = list(model.parameters())
    resumed = list(resumed_model.parameters())
    (pa, sa, _), (pb, sb, _) = snapshot(opt, params), snapshot(resumed_opt, resumed)
    assert_same((pa, sa, []), (pb, sb, []))


def test_checkpoint_that_does_not_fit_changes_neither_model_nor_optimizer(tmp_path):
    model, opt = model_and_optimizer(algo="Adam")
    train(model, opt, 2)
    ak.save_checkpoint(tmp_path / "adam.pt", model=model, optimizer=opt)

    other_model, sgd = model_and_optimizer(seed=2, algo="SGD")
    train(other_model, sgd, 1)
    params = list(other_model.parameters())
    before = snapshot(sgd, params)
    with pytest.raises(ValueError, match="state of Adam.*into SGD"):
        ak.load_checkpoint(tmp_path / "adam.pt", model=other_model, optimizer=sgd)
    assert_same(snapshot(sgd, params), before)  # the model was checked before either was loaded

    wider = torch.nn.Sequential(torch.nn.Linear(64, 90), torch.nn.Tanh(), torch.nn.Linear(90, 1))
    adam = ak.Adam(wider.parameters())
    before = snapshot(adam, list(wider.parameters()))
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(80, 64\)"):
        ak.load_checkpoint(tmp_path / "adam.pt", model=wider, optimizer=adam)
    assert_same(snapshot(adam, list(wider.parameters())), before)

    ak.save_checkpoint(tmp_path / "model-only.pt", model=model)
    with pytest.raises(ValueError, match="no optimizer state"):
        ak.load_checkpoint(tmp_path / "model-only.pt", model=model, optimizer=opt)
    torch.save({"weights": 1}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not an adamkit checkpoint"):
        ak.load_checkpoint(tmp_path / "foreign.pt", model=model)


def test_torch_optim_reads_the_optimizer_part(tmp_path):
    """The file is plain torch.save data: torch.optim.AdamW resumes from a 32-bit adamkit AdamW."""
    model, opt = model_and_optimizer(bits=32)
    train(model, opt, 2)
    ak.save_checkpoint(tmp_path / "run.pt", model=model, optimizer=opt)
    payload = torch.load(tmp_path / "run.pt", weights_only=True)
    theirs = torch.optim.AdamW(model.parameters(), lr=1e-2)
    theirs.load_state_dict(payload["optimizer"])
    assert torch.equal(theirs.state[model[0].weight]["exp_avg"], opt.state[model[0].weight]["exp_avg"])


CHILD = textwrap.dedent(
    """
    import sys, time, torch
    import adamkit.torch as ak
    import adamkit.torch.checkpoint as checkpoint

    path = sys.argv[1]
    model = torch.nn.Linear(256, 256)
    opt = ak.Adam(model.parameters(), fused=False)  # no numba to load: the child starts faster
    ak.save_checkpoint(path, model=model, optimizer=opt, version="good")
    real_save = torch.save

    def half_then_hang(obj, handle):  # the second save stops half-way, as a kill would find it
        import io
        buffer = io.BytesIO()
        real_save(obj, buffer)
        data = buffer.getvalue()
        handle.write(data[: len(data) // 2])
        handle.flush()
        print("half", flush=True)
        time.sleep(600)

    checkpoint.torch.save = half_then_hang
    with torch.no_grad():
        model.weight.add_(1.0)
    ak.save_checkpoint(path, model=model, optimizer=opt, version="new")
    """
)


def test_kill_during_save_leaves_the_last_good_checkpoint(tmp_path):
    path = tmp_path / "run.pt"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout.readline().strip() == "half"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    model = torch.nn.Linear(256, 256)
    extra = ak.load_checkpoint(path, model=model, optimizer=ak.Adam(model.parameters()))
    assert extra == {"version": "good"}
    leftovers = [p.name for p in Path(tmp_path).iterdir() if p.name not in ("run.pt", "child.py")]
    assert all(name.startswith(".run.pt.") for name in leftovers)  # only the unfinished temporary file
