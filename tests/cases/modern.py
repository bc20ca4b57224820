"""The modern family's rows of the case table (Lion, AdEMAMix, AdaBelief, LAMB, Adafactor,
Schedule-Free AdamW).

torch.optim has only Adafactor, and it fails on the harness's zero-size parameter: every row
has ``torch_name=None`` here, and tests/test_modern_family.py checks each algorithm against
torch.optim.Adafactor, the authors' packages and float64 transcriptions of the papers.
"""

from . import BadInput, Case, Convergence

CASES: list[Case] = [
    Case("Lion", dict(lr=0.01), torch_name=None),
    Case("Lion", dict(lr=0.01, betas=(0.95, 0.98), weight_decay=0.1), torch_name=None),
    Case("Lion", dict(lr=0.01, maximize=True, cautious=True), torch_name=None),
    Case("AdEMAMix", dict(lr=0.01), torch_name=None),
    Case("AdEMAMix", dict(lr=0.01, betas=(0.9, 0.99, 0.999), alpha=2.0, weight_decay=0.0), torch_name=None),
    Case("AdEMAMix", dict(lr=0.01, t_alpha=50, t_beta3=50, maximize=True), torch_name=None),
    Case("AdEMAMix", dict(lr=0.01, cautious=True), torch_name=None),
    Case("AdaBelief", dict(lr=0.01), torch_name=None),
    Case("AdaBelief", dict(lr=0.01, amsgrad=True, weight_decay=0.1), torch_name=None),
    Case("AdaBelief", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, eps=1e-8),
         torch_name=None),
    Case("LAMB", dict(lr=0.01), torch_name=None),
    Case("LAMB", dict(lr=0.01, weight_decay=0.1, betas=(0.8, 0.99)), torch_name=None),
    # torch.optim.Adafactor fails on the harness's zero-size parameter (a division by its size):
    # tests/test_modern_family.py compares against it without one.
    Case("Adafactor", dict(), torch_name=None),
    Case("Adafactor", dict(lr=0.05, beta2_decay=-0.5, eps=(1e-30, 1e-2), d=2.0, weight_decay=0.1),
         torch_name=None),
    Case("Adafactor", dict(maximize=True, weight_decay=0.01), torch_name=None),
    Case("ScheduleFreeAdamW", dict(lr=0.01), torch_name=None),
    Case("ScheduleFreeAdamW", dict(lr=0.01, warmup_steps=10, weight_decay=0.1, r=1.0), torch_name=None),
]

BAD_INPUTS: list[BadInput] = [
    BadInput("Lion", dict(lr=-1e-3), "lr"),
    BadInput("Lion", dict(betas=(1.5, 0.99)), "betas[0]"),
    BadInput("Lion", dict(weight_decay=-0.1), "weight_decay"),
    BadInput("AdEMAMix", dict(betas=(0.9, 0.999, 1.0)), "betas[2]"),
    BadInput("AdEMAMix", dict(alpha=-1.0), "alpha"),
    BadInput("AdEMAMix", dict(t_alpha=0), "t_alpha"),
    BadInput("AdEMAMix", dict(t_beta3=-5), "t_beta3"),
    BadInput("AdaBelief", dict(eps=-1e-16), "eps"),
    BadInput("AdaBelief", dict(betas=(0.9, 1.0)), "betas[1]"),
    BadInput("LAMB", dict(weight_decay=-1.0), "weight_decay"),
    BadInput("LAMB", dict(eps=float("nan")), "eps"),
    BadInput("Adafactor", dict(beta2_decay=0.5), "beta2_decay"),
    BadInput("Adafactor", dict(d=0.5), "d"),
    BadInput("Adafactor", dict(eps=(-1.0, 1e-3)), "eps[0]"),
    BadInput("Adafactor", dict(eps=1e-3), "eps"),
    BadInput("ScheduleFreeAdamW", dict(betas=(0.0, 0.999)), "beta"),
    BadInput("ScheduleFreeAdamW", dict(warmup_steps=-1), "warmup_steps"),
]

CONVERGENCE: list[Convergence] = [
    Convergence("Lion", parabola=dict(lr=0.01), rosenbrock=dict(lr=0.001)),
    Convergence("AdEMAMix", parabola=dict(lr=0.05, weight_decay=0.0),
                rosenbrock=dict(lr=0.01, weight_decay=0.0)),
    Convergence("AdaBelief", parabola=dict(lr=0.05), rosenbrock=dict(lr=0.01)),
    Convergence("LAMB", parabola=dict(lr=0.01), rosenbrock=dict(lr=0.003)),
    Convergence("Adafactor", parabola=dict(lr=0.1), rosenbrock=dict(lr=0.01)),
    Convergence("ScheduleFreeAdamW", parabola=dict(lr=0.05), rosenbrock=dict(lr=0.01)),
]
