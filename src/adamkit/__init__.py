"""adamkit: Adam and its family, correct, fast, small and visible.

* :mod:`adamkit.rules`: one readable definition of each algorithm.
* :mod:`adamkit.torch`: drop-in ``torch.optim`` optimizers executing the rules.
* :mod:`adamkit.numpy`: the same optimizers over NumPy arrays.
"""

__version__ = "0.1.0"
