r"""Cautious masking (:mod:`adamkit.rules.cautious`) on a family's kernel, in two passes.

The rescale :math:`d / (\lVert\phi\rVert_0 + 1)` needs the count of agreeing coordinates of the
whole tensor before any of them is updated:

* **first pass** (read only: the gradient and what the update's sign needs): the family's
  update of each element, recomputed exactly as its kernel computes it, and the count of those
  whose sign agrees with the gradient's (:math:`u g > 0`), one partial count per block;
* the host turns each tensor's count into the rule's factor, in the tensor's dtype
  (:func:`rescale`);
* **second pass**: the family's own kernel, with its ``cautious`` switch on and the factor in
  its ``scale`` scalar: :math:`u \leftarrow u \cdot (\phi\, s)` before the step, as the rule.

The mask is the rule's bit for bit (the same operations in the same order), so the step is the
rule's; the count is exact (an integer). The first pass reads the gradient and the state the
update needs; nothing is written twice.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .contract import FusedKernel, SecondPass, cast


def rescale(column: int) -> Callable[[np.ndarray, np.ndarray, np.ndarray, np.dtype], np.ndarray]:
    """The second pass's scalars: the first's, with each tensor's factor in ``column``.

    The rule's factor is ``numel / (sum(mask) + 1)`` with the sum a tensor of the update's
    dtype, which torch computes as the tensor's reciprocal times the number: so it is here,
    in ``dtype`` (counts and sizes are exact in it below 2**24 in float32).
    """

    def scalars(first: np.ndarray, totals: np.ndarray, sizes: np.ndarray, dtype: np.dtype) -> np.ndarray:
        # NumPy, or torch on the device (a GPU's sums: .contract.SecondPass); the Python 1 takes dtype
        factor = (1 / (cast(totals[:, 0], dtype) + 1)) * cast(sizes, dtype)
        rows = first.copy() if isinstance(first, np.ndarray) else first.clone()
        rows[:, column] = factor
        return rows

    return scalars


def cautious_kernel(family: FusedKernel, count_entry: Callable[..., None], column: int) -> FusedKernel:
    """``family``'s kernel for ``cautious=True``: ``count_entry`` (one sum: the agreeing coordinates
    of each block) then ``family``'s entry with the factor in scalar ``column``."""
    update = FusedKernel(family.name, family.entry, family.arrays, family.scalars)
    return FusedKernel(
        f"{family.name}-cautious",
        count_entry,
        family.arrays,
        family.scalars,
        reductions=1,
        then=SecondPass(update, rescale(column)),
    )
