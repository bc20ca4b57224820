"""The lab's optimizer names: one table from a name to an adamkit class, its options and default rate.

Every name builds the :mod:`adamkit.torch` optimizer of that class; ``torch-NAME`` builds
``torch.optim``'s class of the same name with the same options, to run the two side by
side (same seed, same data order: any difference is the optimizer's).

Default learning rates are Keras's (the articles pass Keras strings such as
``optimizer='adam'``): 1e-3 for the adaptive methods, 1e-2 for SGD. One exception:
Adadelta gets 1.0 (its paper's, torch's and Keras 2's), because Keras 3's 1e-3 leaves it
all but frozen. Every other hyperparameter is torch.optim's default, so ``adam`` and
``torch-adam`` are the same algorithm. ``--lr`` overrides the rate.

Where a name sets weight decay (``adamw``), the parameters are split in two groups as
nanoGPT's ``configure_optimizers`` does: matrices and kernels decay, biases do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

#: Prefix that selects torch.optim's class instead of adamkit's.
TORCH_PREFIX = "torch-"
#: Options torch.optim's classes lack (low-bit state, cautious masking): no ``torch-NAME`` for them.
ADAMKIT_ONLY = frozenset({"state_bits", "cautious"})


@dataclass(frozen=True)
class OptimizerSpec:
    """One row of the table: the class (same name in adamkit.torch and torch.optim) and its settings."""

    class_name: str
    lr: float
    options: dict[str, Any] = field(default_factory=dict)
    about: str = ""


#: The lab's optimizers. Later rows (e.g. 8-bit Adam) are one line each.
OPTIMIZERS: dict[str, OptimizerSpec] = {
    "adam": OptimizerSpec("Adam", 1e-3, about="Adam (Kingma and Ba, 2015)"),
    "adamw": OptimizerSpec("AdamW", 1e-3, {"weight_decay": 1e-2}, "Adam with decoupled weight decay"),
    "amsgrad": OptimizerSpec("Adam", 1e-3, {"amsgrad": True}, "Adam with the running maximum of v"),
    "adam16": OptimizerSpec("Adam", 1e-3, {"state_bits": 16}, "Adam, bfloat16 moments"),
    "adam8": OptimizerSpec("Adam", 1e-3, {"state_bits": 8}, "Adam, 8-bit blockwise moments"),
    "adamax": OptimizerSpec("Adamax", 1e-3, about="Adam with the infinity norm"),
    "nadam": OptimizerSpec("NAdam", 1e-3, about="Adam with Nesterov momentum"),
    "radam": OptimizerSpec("RAdam", 1e-3, about="Adam with rectified variance"),
    "swats": OptimizerSpec("SWATS", 1e-3, about="Adam, then SGD once its rate settles"),
    "sgd": OptimizerSpec("SGD", 1e-2, about="plain stochastic gradient descent"),
    "momentum": OptimizerSpec("SGD", 1e-2, {"momentum": 0.9}, "SGD with momentum 0.9"),
    "rmsprop": OptimizerSpec("RMSprop", 1e-3, about="RMSprop (Hinton, 2012)"),
    "adagrad": OptimizerSpec("Adagrad", 1e-3, about="AdaGrad (Duchi et al., 2011)"),
    "adadelta": OptimizerSpec("Adadelta", 1.0, about="AdaDelta (Zeiler, 2012)"),
    # the modern family, at their authors' default rates
    "lion": OptimizerSpec("Lion", 1e-4, about="Lion: the sign of a momentum (Chen et al., 2023)"),
    "ademamix": OptimizerSpec(
        "AdEMAMix", 1e-3, {"weight_decay": 1e-2}, "Adam plus a slow moment (Pagliardini et al., 2024)"
    ),
    "adabelief": OptimizerSpec("AdaBelief", 1e-3, about="Adam over the gradient's variance (Zhuang et al.)"),
    "lamb": OptimizerSpec("LAMB", 1e-3, about="Adam with a per-tensor trust ratio (You et al., 2020)"),
    "adafactor": OptimizerSpec("Adafactor", 1e-2, about="factored second moments (Shazeer and Stern, 2018)"),
    "schedulefree": OptimizerSpec(
        "ScheduleFreeAdamW", 2.5e-3, about="Schedule-Free AdamW (Defazio et al., 2024): no schedule needed"
    ),
    "cautious-adam": OptimizerSpec("Adam", 1e-3, {"cautious": True}, "Adam with cautious masking"),
    "cautious-adamw": OptimizerSpec(
        "AdamW", 1e-3, {"weight_decay": 1e-2, "cautious": True}, "AdamW with cautious masking"
    ),
    "cautious-lion": OptimizerSpec("Lion", 1e-4, {"cautious": True}, "Lion with cautious masking"),
    "cautious-ademamix": OptimizerSpec(
        "AdEMAMix", 1e-3, {"weight_decay": 1e-2, "cautious": True}, "AdEMAMix with cautious masking"
    ),
}
OPTIMIZERS["sfadamw"] = OPTIMIZERS["schedulefree"]  # the name the issue and schedulefree's users know
#: ``NAME16`` and ``NAME8``: the optimizers whose low-bit state runs in fused kernels, with
#: bfloat16 or 8-bit blockwise moments (Adam's are the rows above)
_LOW_BIT = ("adamw", "amsgrad", "adamax", "nadam", "radam", "momentum", "rmsprop", "adagrad")
for _name in (*_LOW_BIT, "lion", "ademamix", "adabelief"):
    _spec = OPTIMIZERS[_name]
    for _bits, _what in ((16, "bfloat16 moments"), (8, "8-bit blockwise moments")):
        OPTIMIZERS[f"{_name}{_bits}"] = OptimizerSpec(
            _spec.class_name, _spec.lr, {**_spec.options, "state_bits": _bits}, f"{_spec.about}; {_what}"
        )


def _find_class(module: Any, class_name: str) -> type | None:
    """``module.class_name``, looked up when needed: adamkit.torch gains classes over time."""
    found = getattr(module, class_name, None)
    if found is None:  # tolerate a different capitalisation (RMSProp / RMSprop)
        found = next((v for k, v in vars(module).items() if k.lower() == class_name.lower()), None)
    return found if isinstance(found, type) else None


def resolve(name: str) -> tuple[OptimizerSpec, type]:
    """The table row and the optimizer class for ``name`` (``adam``, ``torch-adam``, ...)."""
    key = name.strip().lower()
    peer = key.startswith(TORCH_PREFIX)
    spec = OPTIMIZERS.get(key.removeprefix(TORCH_PREFIX))
    if spec is None:
        raise ValueError(f"Unknown optimizer {name!r}; known: {', '.join(known_names())}")
    if peer:
        cls = _find_class(torch.optim, spec.class_name)
        where = "torch.optim"
    else:
        import adamkit.torch

        cls = _find_class(adamkit.torch, spec.class_name)
        where = "adamkit.torch"
    if cls is None:
        raise ValueError(f"Optimizer {name!r} needs {where}.{spec.class_name}, which this install lacks")
    return spec, cls


def numpy_names() -> list[str]:
    """The table's names the NumPy front end runs (low-bit state exists only in adamkit.torch)."""
    return [n for n, s in OPTIMIZERS.items() if "state_bits" not in s.options]


def known_names() -> list[str]:
    """Every name the lab accepts: the table's, and ``torch-NAME`` where torch.optim has the class."""
    peers = [
        TORCH_PREFIX + n
        for n, s in OPTIMIZERS.items()
        if _find_class(torch.optim, s.class_name) and not ADAMKIT_ONLY & set(s.options)
    ]
    return [*OPTIMIZERS, *peers]


def default_lr(name: str) -> float:
    """The learning rate ``name`` uses when ``--lr`` is not given."""
    return resolve(name)[0].lr


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """One group, or with weight decay two: tensors of 2+ dims decay, biases and gains do not."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not weight_decay:
        return [{"params": params}]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def make(name: str, model: nn.Module, lr: float | None = None) -> torch.optim.Optimizer:
    """Build optimizer ``name`` over ``model``'s parameters (``lr=None``: the name's default)."""
    spec, cls = resolve(name)
    options = dict(spec.options)
    groups = parameter_groups(model, options.pop("weight_decay", 0.0))
    return cls(groups, lr=spec.lr if lr is None else lr, **options)


def engine_of(optimizer: torch.optim.Optimizer) -> str:
    """What executes the step: adamkit's engine name, or torch.optim's implementation."""
    engine = getattr(optimizer, "engine", None)
    if engine is not None:
        return f"adamkit {engine}"
    group = optimizer.param_groups[0]
    kind = "fused" if group.get("fused") else "foreach" if group.get("foreach") else "for-loop"
    return f"torch.optim {kind}"


def state_precision_of(optimizer: torch.optim.Optimizer) -> str:
    """The precision of the optimizer state: what the optimizer declares, else the parameters' dtype."""
    declared = getattr(optimizer, "state_precision", None)
    if declared:
        return str(declared)
    dtypes = sorted(
        {str(p.dtype).removeprefix("torch.") for g in optimizer.param_groups for p in g["params"]}
    )
    return "/".join(dtypes) + " (as the parameters)"


def describe_groups(optimizer: torch.optim.Optimizer) -> list[dict[str, Any]]:
    """Per group: tensors, values, and its hyperparameters (plain numbers, for JSON)."""
    skip = {"params", "foreach", "capturable", "differentiable", "fused", "maximize", "initial_lr"}
    rows = []
    for group in optimizer.param_groups:
        hyper = {
            k: (v.item() if isinstance(v, torch.Tensor) else v) for k, v in group.items() if k not in skip
        }
        rows.append(
            {
                "tensors": len(group["params"]),
                "values": sum(p.numel() for p in group["params"]),
                "lr": hyper.pop("lr"),
                **{k: list(v) if isinstance(v, tuple) else v for k, v in hyper.items()},
            }
        )
    return rows


def describe(name: str, optimizer: torch.optim.Optimizer) -> list[str]:
    """Lines saying what the run uses (after nanoGPT's ``configure_optimizers`` printout)."""
    cls = type(optimizer)
    home = "adamkit.torch" if cls.__module__.startswith("adamkit") else "torch.optim"
    lines = [
        f"{name}: {home}.{cls.__qualname__}, engine {engine_of(optimizer)}, "
        f"state {state_precision_of(optimizer)}"
    ]
    for i, group in enumerate(describe_groups(optimizer)):
        hyper = ", ".join(f"{k}={v}" for k, v in group.items() if k not in ("tensors", "values"))
        lines.append(f"  group {i}: {group['tensors']} tensors, {group['values']:,} values; {hyper}")
    return lines
