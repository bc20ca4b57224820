"""Drop-in replacements for ``torch.optim`` optimizers, executing :mod:`adamkit.rules`.

Same constructor arguments, param groups, closures and ``state_dict`` keys as
torch.optim: a checkpoint of ``torch.optim.Adam`` loads into ``adamkit.torch.Adam``
and back.

Engines (chosen at construction, :attr:`RuleOptimizer.engine`): the reference engine
(:mod:`.engine`: the rules on tensors) and the fused engine (:mod:`.fused`): numba kernels
on the CPU (:mod:`.kernels`), Triton kernels on CUDA devices (:mod:`.gpu`). Low-bit
optimizer state (``state_bits``): :mod:`.lowbit`.
"""

from .adabelief import AdaBelief
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .ademamix import AdEMAMix
from .checkpoint import load_checkpoint, save_checkpoint
from .lamb import LAMB
from .lion import Lion
from .nadam import NAdam
from .optimizer import RuleOptimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .schedulefree import ScheduleFreeAdamW
from .sgd import SGD
from .swats import SWATS

__all__ = [
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "RAdam",
    "RuleOptimizer",
    "SGD",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "SWATS",
    "Lion",
    "AdEMAMix",
    "AdaBelief",
    "LAMB",
    "Adafactor",
    "ScheduleFreeAdamW",
    "load_checkpoint",
    "save_checkpoint",
]
