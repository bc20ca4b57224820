"""SWATS rows of the case table. torch has no SWATS: the rows run the numpy-vs-torch,
bad-input, convergence and interface tests; tests/test_swats.py checks both phases
against torch.optim.Adam and torch.optim.SGD.

On the harness problem (100 steps) the rows switch some tensors early and leave others
(the zero-size one never: it has no projection), so both phases and the hand-over are covered.
"""

from . import BadInput, Case, Convergence

CASES: list[Case] = [
    Case("SWATS", dict(lr=0.01), torch_name=None),
    Case("SWATS", dict(lr=0.02, switch_tol=1e-4), torch_name=None),
    Case("SWATS", dict(lr=0.01, weight_decay=0.1, switch_tol=1e-4), torch_name=None),
    Case("SWATS", dict(lr=0.01, maximize=True, switch_tol=1e-4), torch_name=None),
    Case("SWATS", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, switch_tol=1e-3), torch_name=None),
    Case("SWATS", dict(lr=0.01, switch_tol=0.0), torch_name=None),  # never switches: Adam
]

BAD_INPUTS: list[BadInput] = [
    BadInput("SWATS", dict(lr=-1e-3), "lr"),
    BadInput("SWATS", dict(eps=-1e-8), "eps"),
    BadInput("SWATS", dict(betas=(1.0, 0.999)), "betas[0]"),
    BadInput("SWATS", dict(betas=(0.9, -0.1)), "betas[1]"),
    BadInput("SWATS", dict(weight_decay=-0.1), "weight_decay"),
    BadInput("SWATS", dict(switch_tol=-1e-9), "switch_tol"),
    BadInput("SWATS", dict(switch_tol=float("nan")), "switch_tol"),
]

#: Both rows switch to SGD on the way (parabola at step 61, Rosenbrock at step 1144;
#: tests/test_swats.py checks that they do), so convergence covers the SGD phase.
CONVERGENCE: list[Convergence] = [
    Convergence("SWATS", parabola=dict(lr=0.05), rosenbrock=dict(lr=0.05, betas=(0.9, 0.99))),
]
