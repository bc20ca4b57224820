"""torch.optim's step wrapper, with its profiler label recorded the cheap way.

``torch.optim.Optimizer`` wraps every subclass's ``step`` once (``_patch_step_function``,
through the static method ``profile_hook_step``): the wrapper runs the global and per-optimizer
step pre-hooks (which may replace the step's arguments) and post-hooks, and marks the step for
profilers with a ``record_function`` label, ``Optimizer.step#<class>.step``. That label is
recorded through a dispatcher call in and another out, about 5 us a step on this machine whether
a profiler runs or not: a sixth of a one-tensor step.

:func:`with_step_hooks` is that wrapper with the same hooks, in the same order and with the same
arguments, and the same label recorded by torch's C++ ``RecordFunction`` directly
(``torch._C._profiler._RecordFunctionFast``, which torch's compiled code uses for its labels:
a profiler sees it as it sees torch's). :class:`adamkit.torch.optimizer.RuleOptimizer` makes it
its ``profile_hook_step``, so torch's own patching installs it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from itertools import chain
from typing import Any

import torch
from torch.optim.optimizer import _global_optimizer_post_hooks, _global_optimizer_pre_hooks

#: the label's recorder: torch's C++ one where it has it (torch 2.2 and later), else ``record_function``
RECORD: Callable[[str], Any] = getattr(torch._C._profiler, "_RecordFunctionFast", None) or (
    torch.autograd.profiler.record_function
)


def with_step_hooks(step: Callable[..., Any]) -> Callable[..., Any]:
    """``step`` run between the optimizer's step hooks, under its profiler label (see the module)."""

    @functools.wraps(step)
    def hooked_step(*args: Any, **kwargs: Any) -> Any:
        optimizer = args[0]
        with RECORD(f"Optimizer.step#{type(optimizer).__name__}.step"):
            # as torch: the hooks see the whole positional arguments, the optimizer first
            pre_hooks = optimizer._optimizer_step_pre_hooks
            for hook in chain(_global_optimizer_pre_hooks.values(), pre_hooks.values()):
                result = hook(optimizer, args, kwargs)
                if result is None:
                    continue
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(
                        f"a step pre-hook of {type(optimizer).__name__} returned {result!r}: "
                        "it must return None or (new_args, new_kwargs)"
                    )
                args, kwargs = result
            out = step(*args, **kwargs)
            optimizer._optimizer_step_code()  # where torch's profilers find the step (an empty method)
            post_hooks = optimizer._optimizer_step_post_hooks
            for hook in chain(post_hooks.values(), _global_optimizer_post_hooks.values()):
                hook(optimizer, args, kwargs)
            return out

    return hooked_step
