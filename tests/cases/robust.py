"""Bad inputs every front end must refuse by name (issue 17): types and shapes, not only ranges.

``BAD_INPUTS`` join the shared table (torch, NumPy and ``add_param_group`` refuse them);
``TORCH_BAD_INPUTS`` are arguments only the torch optimizers take.
"""

from . import BadInput, Case, Convergence

CASES: list[Case] = []
CONVERGENCE: list[Convergence] = []

WITH_BETAS = ("Adam", "AdamW", "Adamax", "NAdam", "RAdam", "SWATS")
ALL = ("Adam", "AdamW", "Adamax", "NAdam", "RAdam", "SWATS", "SGD", "RMSprop", "Adagrad", "Adadelta")

BAD_INPUTS: list[BadInput] = (
    [BadInput(algo, dict(lr="0.1"), "lr") for algo in ALL]  # float("0.1") must not pass for a number
    + [BadInput(algo, dict(betas=(0.9,)), "betas") for algo in WITH_BETAS]  # was a bare IndexError
    + [BadInput(algo, dict(betas=(0.9, 0.99, 0.5)), "betas") for algo in WITH_BETAS]  # third ignored
    + [BadInput(algo, dict(betas=0.9), "betas") for algo in WITH_BETAS]
    + [
        BadInput("Adam", dict(eps="1e-8"), "eps"),
        BadInput("SGD", dict(momentum="0.9"), "momentum"),
        BadInput("Adam", dict(betas=("0.9", 0.999)), "betas[0]"),
    ]
)

TORCH_BAD_INPUTS: list[BadInput] = [
    bad
    for algo in ALL
    for bad in (
        BadInput(algo, dict(state_bits=8.0), "state_bits"),
        BadInput(algo, dict(state_bits="8"), "state_bits"),
        BadInput(algo, dict(state_bits=True), "state_bits"),
        BadInput(algo, dict(state_bits=4), "state_bits"),
        BadInput(algo, dict(nonfinite="ignore"), "nonfinite"),
        BadInput(algo, dict(nonfinite=None), "nonfinite"),
    )
]
