r"""Sparse gradients (``nn.Embedding(sparse=True)``): the rule applied to the rows present.

A sparse gradient names the rows (more generally, the index tuples of its sparse
dimensions) that a batch touched. Updating the whole table would decay the moments of
rows that were never looked up and move them on stale momentum; instead the rule runs on
the gathered rows only and the results are scattered back, as torch.optim.SparseAdam does:

.. math::

    \text{for the rows } r \text{ in the coalesced gradient:}\quad
    (\theta_r, m_r, v_r) \leftarrow \text{rule}(\theta_r, g_r, m_r, v_r;\ t),

while every other row keeps its parameter and moments. Scalar state (``step``) counts
every step that had a gradient, even one with no rows, exactly as SparseAdam.

Which rules take sparse gradients, and how, is the rule's own ``sparse_hyper``
(:class:`~adamkit.rules.spec.Rule`): the hyperparameter overrides under which it runs on
the rows (Adam: ``{"eps_hat": True}``, SparseAdam's placement of :math:`\epsilon`). The
rest reject sparse gradients with an error naming the optimizer. Weight decay and AMSGrad
are rejected too: a penalty on untouched rows and a running maximum would both need every
row at every step, which is what the sparse layout avoids.

Any engine can call :func:`step_sparse` for the parameters whose gradient is sparse.

Example:
    >>> import torch, adamkit.torch as ak
    >>> emb = torch.nn.Embedding(10, 3, sparse=True)
    >>> opt = ak.Adam(emb.parameters(), lr=0.1)
    >>> emb(torch.tensor([1, 4])).sum().backward(); opt.step()   # only rows 1 and 4 move
"""

from __future__ import annotations

from typing import Any

import torch

from ..rules.spec import Rule, State
from .engine import fresh_state, scalar_number


def check_sparse_support(rule: Rule, hp: dict[str, Any]) -> None:
    """Raise ``ValueError`` unless ``rule`` under ``hp`` can update rows lazily."""
    if rule.sparse_hyper is None:
        raise ValueError(
            f"{rule.title} does not support sparse gradients (e.g. nn.Embedding(sparse=True)); "
            "use adamkit.torch.Adam, which updates only the rows present as torch.optim.SparseAdam "
            "does, or make the gradient dense"
        )
    if hp.get("weight_decay", 0) != 0:
        raise ValueError(
            f"{rule.title} with sparse gradients needs weight_decay=0 (got {hp['weight_decay']}): "
            "decay would have to touch every row at every step"
        )
    if hp.get("amsgrad", False):
        raise ValueError(
            f"{rule.title} with sparse gradients does not support amsgrad=True: "
            "the running maximum is defined over every row at every step"
        )
    if hp.get("cautious", False):
        raise ValueError(
            f"{rule.title} with sparse gradients does not support cautious=True: "
            "the rescale counts the coordinates of the whole tensor"
        )


def step_sparse(
    rule: Rule, param: torch.Tensor, grad: torch.Tensor, state: State, hp: dict[str, Any]
) -> None:
    """Update ``param`` and its ``state`` in place from the sparse ``grad``, row by row."""
    check_sparse_support(rule, hp)
    if param.is_complex():
        raise ValueError(f"{rule.title}: sparse gradients of complex parameters are not supported")
    hp = {**hp, **rule.sparse_hyper}
    if not state:
        state.update(fresh_state(rule, param, hp))

    grad = grad.coalesce()  # duplicate indices summed: each row is updated once
    rows = tuple(grad.indices())
    data = param.detach()
    row_state: State = {}
    for key, value in state.items():
        if key in rule.scalar_state:
            row_state[key] = scalar_number(rule, key, value) if isinstance(value, torch.Tensor) else value
        else:
            row_state[key] = value[rows]

    new_rows, new_state = rule.update(data[rows], grad.values(), row_state, hp)

    data[rows] = new_rows
    for key, value in new_state.items():
        if key in rule.scalar_state:
            if isinstance(state[key], torch.Tensor):
                state[key].fill_(value)
            else:
                state[key] = value
        else:
            state[key][rows] = value
