"""Adamax, NAdam and RAdam rows of the case table: every flag combination torch.optim supports."""

from itertools import product

import torch

from . import BadInput, Case, Convergence

CASES: list[Case] = (
    [
        Case("Adamax", dict(lr=0.01, weight_decay=wd, maximize=mx))
        for wd, mx in product((0.0, 0.1), (False, True))
    ]
    + [
        Case("Adamax", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-3)),
        Case("Adamax", dict()),  # torch's defaults, including the default lr
    ]
    + [
        Case("NAdam", dict(lr=0.01, weight_decay=wd, maximize=mx, decoupled_weight_decay=d))
        for wd, mx, d in product((0.0, 0.1), (False, True), (False, True))
        if not (wd == 0.0 and d)
    ]
    + [Case("NAdam", dict(lr=0.01, momentum_decay=md)) for md in (0.0, 0.1)]  # 0: constant mu = beta1/2
    + [
        Case("NAdam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, momentum_decay=0.02)),
        Case("NAdam", dict()),
    ]
    + [
        Case("RAdam", dict(lr=0.01, weight_decay=wd, maximize=mx, decoupled_weight_decay=d))
        for wd, mx, d in product((0.0, 0.1), (False, True), (False, True))
        if not (wd == 0.0 and d)
    ]
    + [
        # beta2 = 0.9: rho_inf = 19, so the rectified adaptive step starts at step 3 (not 6)
        Case("RAdam", dict(lr=0.02, betas=(0.8, 0.9), eps=1e-6)),
        # beta2 = 0.5: rho_inf = 3 never exceeds 5, so every step is the momentum step
        Case("RAdam", dict(lr=0.01, betas=(0.9, 0.5))),
        Case("RAdam", dict()),
    ]
)

BAD_INPUTS: list[BadInput] = [
    bad
    for algo in ("Adamax", "NAdam", "RAdam")
    for bad in (
        BadInput(algo, dict(lr=-1e-3), "lr"),
        BadInput(algo, dict(lr=torch.tensor([1e-3, 1e-3])), "lr"),  # torch: "Tensor lr must be 1-element"
        BadInput(algo, dict(eps=-1e-8), "eps"),
        BadInput(algo, dict(betas=(1.0, 0.999)), "betas[0]"),
        BadInput(algo, dict(betas=(-0.1, 0.999)), "betas[0]"),
        BadInput(algo, dict(betas=(0.9, 1.0)), "betas[1]"),
        BadInput(algo, dict(betas=(0.9, -0.5)), "betas[1]"),
        BadInput(algo, dict(weight_decay=-0.1), "weight_decay"),
    )
] + [BadInput("NAdam", dict(momentum_decay=-4e-3), "momentum_decay")]

CONVERGENCE: list[Convergence] = [
    Convergence("Adamax", parabola=dict(lr=0.05), rosenbrock=dict(lr=0.02)),
    Convergence("NAdam", parabola=dict(lr=0.05), rosenbrock=dict(lr=0.005)),
    # RAdam's first steps are plain momentum steps of size lr * |grad| (about 200 at Rosenbrock's
    # start), so lr = 0.01 already diverges there; 0.002 ends within 1e-3.
    Convergence("RAdam", parabola=dict(lr=0.05), rosenbrock=dict(lr=0.002)),
]
