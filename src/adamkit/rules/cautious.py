r"""Cautious masking (Liang, Chen, Liu and Liu, "Cautious Optimizers: Improving Training with One
Line of Code", 2024).

An update coordinate whose sign disagrees with the current gradient would, to first order,
*increase* the loss: it is zeroed. The survivors are scaled up so that the tensor's update keeps
its size on average:

.. math::

    \phi = \mathbb{1}[u \odot g > 0],\qquad
    u \leftarrow u \odot \phi \cdot \frac{d}{\lVert\phi\rVert_0 + 1}

with :math:`d` the number of coordinates of the tensor (the paper's normalisation; the ``+ 1``
keeps it finite when every coordinate is masked). The rescale is a reduction over the whole
tensor, so a rule with ``cautious=True`` is applied per tensor.
"""

from __future__ import annotations

import math

from .spec import Array, namespace


def cautious(update: Array, grad: Array) -> Array:
    """``update`` with the coordinates that disagree with ``grad`` zeroed and the rest rescaled."""
    xp = namespace(update)
    # The mask in the update's own dtype (no bool arithmetic, which TensorFlow's tensors lack, and
    # no host read of the count: a traced Keras step).
    agree = xp.where(update * grad > 0, xp.ones_like(update), xp.zeros_like(update))
    return update * (agree * (math.prod(update.shape) / (xp.sum(agree) + 1)))
