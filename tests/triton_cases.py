"""What the Triton tests share: where the kernels run, and the Adam cases both kernel sets take."""

from __future__ import annotations

import torch

#: where the Triton kernels run: a CUDA device (compiled without FMAs: the CPU kernels'
#: IEEE operations), else the CPU in Triton's interpreter (``conftest.py`` switches it on)
TRITON_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

#: Adam and AdamW with AMSGrad, maximize, both kinds of weight decay, other betas and eps
ADAM_CASES = [
    ("Adam", {}),
    ("Adam", {"amsgrad": True, "weight_decay": 0.1}),
    ("Adam", {"maximize": True, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("AdamW", {"weight_decay": 0.1}),
    ("AdamW", {"amsgrad": True, "maximize": True}),
]
