"""Adam and AdamW rows of the case table: every flag combination torch.optim supports."""

from itertools import product

from . import BadInput, Case, Convergence

CASES: list[Case] = (
    [
        Case("Adam", dict(lr=0.01, weight_decay=wd, amsgrad=ams, maximize=mx, decoupled_weight_decay=d))
        for wd, ams, mx, d in product((0.0, 0.1), (False, True), (False, True), (False, True))
        if not (wd == 0.0 and d)
    ]
    + [
        Case("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6)),
        Case("Adam", dict(lr=0.01, betas=(0.0, 0.9))),
    ]
    + [
        Case("AdamW", dict(lr=0.01, weight_decay=wd, amsgrad=ams, maximize=mx))
        for wd, ams, mx in product((0.0, 0.05), (False, True), (False, True))
    ]
    + [  # cautious masking (Liang et al., 2024): not in torch.optim (tests/test_modern_family.py)
        Case("Adam", dict(lr=0.01, cautious=True, weight_decay=0.1, amsgrad=True, maximize=True),
             torch_name=None),
        Case("AdamW", dict(lr=0.01, cautious=True), torch_name=None),
    ]
)

BAD_INPUTS: list[BadInput] = [
    bad
    for algo in ("Adam", "AdamW")
    for bad in (
        BadInput(algo, dict(lr=-1e-3), "lr"),
        BadInput(algo, dict(eps=-1e-8), "eps"),
        BadInput(algo, dict(betas=(1.0, 0.999)), "betas[0]"),
        BadInput(algo, dict(betas=(-0.1, 0.999)), "betas[0]"),
        BadInput(algo, dict(betas=(0.9, 1.0)), "betas[1]"),
        BadInput(algo, dict(weight_decay=-0.1), "weight_decay"),
    )
]

CONVERGENCE: list[Convergence] = [
    Convergence("Adam", parabola=dict(lr=0.05), rosenbrock=dict(lr=0.02)),
    Convergence(
        "AdamW", parabola=dict(lr=0.05, weight_decay=0.0), rosenbrock=dict(lr=0.02, weight_decay=0.0)
    ),
]
