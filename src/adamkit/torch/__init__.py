"""Drop-in replacements for ``torch.optim`` optimizers, executing :mod:`adamkit.rules`.

Same constructor arguments, param groups, closures and ``state_dict`` keys as
torch.optim: a checkpoint of ``torch.optim.Adam`` loads into ``adamkit.torch.Adam``
and back.
"""

from .adam import Adam, AdamW
from .optimizer import RuleOptimizer

__all__ = ["Adam", "AdamW", "RuleOptimizer"]
