"""adamkit's step wrapper (:mod:`adamkit.torch.step_hooks`) behaves as torch.optim's: the same hooks
in the same order with the same arguments, arguments a pre-hook replaces reach the step, a bad
hook result is refused, and a profiler sees the step under torch's label."""

from __future__ import annotations

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

import adamkit.torch

MAKERS = {"torch": torch.optim.Adam, "adamkit": adamkit.torch.Adam}


def _hooked_run(make) -> tuple[list, torch.Tensor, object]:
    """Two steps of ``make``'s optimizer under a global and a per-optimizer pre- and post-hook; the
    optimizer's pre-hook hands the second step a closure. Returns the hooks' calls (the optimizer
    as a marker), the parameter and the second step's result."""
    param = torch.nn.Parameter(torch.tensor([1.0, -2.0, 3.0]))
    opt = make([param], lr=0.1)
    calls = []

    def closure():
        param.grad = 2 * param.detach()
        return torch.tensor(7.0)

    def note(where):
        def hook(o, args, kwargs):
            calls.append((where, o is opt, args[0] is opt, len(args), sorted(kwargs)))

        return hook

    def swap_arguments(o, args, kwargs):
        note("pre")(o, args, kwargs)
        if len(calls) > 4:  # the second step: a closure instead of no arguments
            return (o,), {"closure": closure}
        return None

    handles = [
        register_optimizer_step_pre_hook(note("global pre")),
        register_optimizer_step_post_hook(note("global post")),
        opt.register_step_pre_hook(swap_arguments),
        opt.register_step_post_hook(note("post")),
    ]
    try:
        param.grad = torch.ones(3)
        opt.step()
        result = opt.step()
    finally:
        for handle in handles:
            handle.remove()
    return calls, param.detach(), result


def test_step_hooks_run_as_torch_runs_them():
    (torch_calls, torch_param, torch_result), (ours, our_param, our_result) = (
        _hooked_run(make) for make in MAKERS.values()
    )
    assert ours == torch_calls
    assert [c[0] for c in ours[:4]] == ["global pre", "pre", "post", "global post"]
    assert ours[5] == ("pre", True, True, 1, [])  # (the replaced arguments reach the post-hooks)
    assert ours[6] == ("post", True, True, 1, ["closure"])
    assert our_result == torch_result == 7.0  # the closure a pre-hook added ran
    assert torch.allclose(our_param, torch_param, rtol=1e-6)


@pytest.mark.parametrize("name", list(MAKERS))
def test_a_pre_hook_returning_something_else_is_refused(name):
    param = torch.nn.Parameter(torch.ones(2))
    param.grad = torch.ones(2)
    opt = MAKERS[name]([param])
    opt.register_step_pre_hook(lambda *_: "not (args, kwargs)")
    with pytest.raises(RuntimeError):
        opt.step()
    assert torch.equal(param.detach(), torch.ones(2))


def test_a_profiler_sees_the_step_under_torchs_label():
    labels = {}
    for name, make in MAKERS.items():
        param = torch.nn.Parameter(torch.ones(2))
        param.grad = torch.ones(2)
        opt = make([param])
        with torch.profiler.profile() as prof:
            opt.step()
        labels[name] = [e.name for e in prof.events() if e.name.startswith("Optimizer.step#")]
    assert labels["adamkit"] == labels["torch"] == ["Optimizer.step#Adam.step"]
