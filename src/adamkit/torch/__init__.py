"""Drop-in replacements for ``torch.optim`` optimizers, executing :mod:`adamkit.rules`.

Same constructor arguments, param groups, closures and ``state_dict`` keys as
torch.optim: a checkpoint of ``torch.optim.Adam`` loads into ``adamkit.torch.Adam``
and back.
"""

from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .nadam import NAdam
from .optimizer import RuleOptimizer
from .radam import RAdam
from .rmsprop import RMSprop
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
]
