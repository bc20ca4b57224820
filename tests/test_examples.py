"""The scripts in examples/ run as users run them, and do what they say.

* ``hf_trainer.py``: transformers' Trainer trains with adamkit's AdamW (8-bit state), the loss
  falls, and a run resumed from its half-way checkpoint ends bit for bit where the
  uninterrupted run ended (parameters and optimizer state).
* ``lightning_module.py``: Lightning's ``configure_optimizers`` with adamkit's AdamW and a
  scheduler; the loss falls, and the trajectory follows the same script with torch.optim.AdamW.

The scripts are imported and their ``main`` called with command-line arguments (one process:
transformers and Lightning take seconds to import).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

import adamkit.torch as ak

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example(name: str):
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Tiny models: one thread is fastest, and the machine's cores are shared."""


def test_hf_trainer_trains_with_adamkit_and_resumes_identically(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    hf = example("hf_trainer")
    args = ["--output-dir", str(tmp_path), "--max-steps", "20", "--state-bits", "8"]
    full = hf.main(args)
    optimizer = full.optimizer.optimizer
    assert type(optimizer) is ak.AdamW and optimizer.engine == "fused"
    assert any(key.endswith("_codes") for state in optimizer.state.values() for key in state)  # 8-bit
    losses = [entry["loss"] for entry in full.state.log_history if "loss" in entry]
    assert losses[-1] < 0.8 * losses[0]

    resumed = hf.main([*args, "--resume", str(tmp_path / "checkpoint-10")])
    resumed_optimizer = resumed.optimizer.optimizer
    assert type(resumed_optimizer) is ak.AdamW and resumed.state.global_step == 20
    pairs = zip(full.model.named_parameters(), resumed.model.parameters(), strict=True)
    for (name, p_full), p_resumed in pairs:
        assert torch.equal(p_full, p_resumed), name
        state_full, state_resumed = optimizer.state[p_full], resumed_optimizer.state[p_resumed]
        assert state_full.keys() == state_resumed.keys()
        for key, value in state_full.items():
            assert torch.equal(value, state_resumed[key]), (name, key)
    assert resumed_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]  # the scheduler too


def test_lightning_configure_optimizers_trains_like_torch_optim():
    pytest.importorskip("lightning")
    lightning_example = example("lightning_module")
    trainer, model = lightning_example.main(["--max-epochs", "12"])
    optimizer = trainer.optimizers[0]
    assert type(optimizer) is ak.AdamW
    assert sum(model.losses[-8:]) < 0.5 * sum(model.losses[:8])  # last epoch against the first
    assert optimizer.param_groups[0]["lr"] < 1e-2  # Lightning stepped the cosine schedule

    _, torch_model = lightning_example.main(["--max-epochs", "12"], optimizer_class=torch.optim.AdamW)
    for ours, theirs in zip(model.parameters(), torch_model.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
