"""adamkit: Adam and its family, correct, fast, small and visible.

* :mod:`adamkit.rules`: one readable definition of each algorithm (the spec).
* :mod:`adamkit.torch`: drop-in ``torch.optim`` optimizers executing the rules.
* :mod:`adamkit.numpy`: the same optimizers over NumPy arrays.
* :mod:`adamkit.keras`: Keras 3 optimizers on the same rules.
* :mod:`adamkit.data`, :mod:`adamkit.lab`, :mod:`adamkit.schedules`: data sets, experiments
  and learning-rate schedules behind the ``adamkit`` command.
"""

__version__ = "0.1.0"
