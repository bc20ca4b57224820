"""Which tensors the fused kernels can take: checked in full once per parameter, cheaply after.

The kernels read and write memory by address, so a parameter, its gradient and its state
must be dense, contiguous, of the kernel's dtype and shape, on a device with a launcher
(:func:`takes`, :func:`matches`): about twenty attribute reads and calls per tensor. A
model with hundreds of small tensors would spend more time on them than on the update, so
the fused engine (:mod:`.fused`) runs them once per parameter and keeps a :class:`Checked`
record of what it found fit. Later steps only confirm that nothing the checks looked at was
swapped (:meth:`Checked.scalar_values`, :meth:`Checked.holds`):

* the same parameter at the same address (``param.data = ...`` moves it);
* a gradient of the same kind (a new tensor each step: its own checks run every step, but
  against the parameter's remembered dtype and shape);
* the same state dict holding the same tensor objects at the same addresses (a loaded
  ``state_dict``, a replaced or re-pointed tensor, a toggled ``amsgrad`` all differ).

Anything else sends the parameter through the full checks again. Scalar state kept as
0-dim CPU tensors (``step``) is read and written through a NumPy view of its memory, a
tenth of the cost of ``item()`` and ``fill_()``; the engine bumps those tensors' versions
as ``fill_`` would.
"""

from __future__ import annotations

import operator
from collections.abc import Collection
from typing import Any

import numpy as np
import torch

from ..rules.spec import Rule, State
from .engine import scalar_number

PLAIN_TENSORS = (torch.Tensor, torch.nn.Parameter)


def plain(t: torch.Tensor, devices: Collection[str]) -> bool:
    """Dense, contiguous, on one of ``devices`` (types), no lazy conjugate/negative bit, no subclass."""
    return (
        type(t) in PLAIN_TENSORS
        and device_type(t) in devices
        and t.layout is torch.strided
        and t.is_contiguous()
        and not t.is_conj()
        and not t.is_neg()
    )


def device_type(t: torch.Tensor) -> str:
    return "cpu" if t.is_cpu else t.device.type


def takes(param: torch.Tensor, grad: torch.Tensor, devices: Collection[str]) -> bool:
    """Whether the kernels can update ``param`` (of a kernel dtype) with ``grad``."""
    return (
        grad.dtype == param.dtype
        and grad.shape == param.shape
        and plain(param, devices)
        and plain(grad, devices)
        and (param.is_cpu and grad.is_cpu or grad.device == param.device)
    )


def matches(t: torch.Tensor, param: torch.Tensor, devices: Collection[str]) -> bool:
    """Whether state tensor ``t`` can be updated beside ``param``."""
    return (
        t.dtype == param.dtype
        and t.shape == param.shape
        and plain(t, devices)
        and (t.is_cpu and param.is_cpu or t.device == param.device)
    )


#: the types of state kept as plain Python numbers, not 0-dim tensors (Schedule-Free's averaging sums,
#: float64 as in ``schedulefree``): scalar state too, though the rule's ``scalar_state`` does not list
#: them (the keys it lists are stored as tensors)
HOST_NUMBERS = (float, int)


def is_scalar(rule: Rule, key: str, value: Any) -> bool:
    """Whether state ``key`` holding ``value`` is scalar state (read by the kernels' host code)."""
    return key in rule.scalar_state or type(value) in HOST_NUMBERS


def read_scalars(rule: Rule, p_state: State) -> State:
    """The state as :meth:`.kernels.contract.FusedKernel.scalars` reads it: the rule's scalars (and
    numbers kept as such: :data:`HOST_NUMBERS`) as Python floats (NumPy float32s where
    :func:`.engine.scalar_number` says so), array entries as ``True`` (or ``None`` where stored so):
    the scalars may depend on whether a state exists yet (SGD's momentum buffer), never on its values.
    """
    out = {}
    for key, value in p_state.items():
        if is_scalar(rule, key, value):
            out[key] = scalar_number(rule, key, value) if isinstance(value, torch.Tensor) else value
        else:
            out[key] = None if value is None else True
    return out


def scalar_key(rule: Rule, current: State) -> tuple[tuple, tuple]:
    """``current`` (:func:`read_scalars`) as ``(layout, values)``: the keys in order (array keys with
    their ``True``/``None``, float32 scalars with ``np.float32``), and the scalars' values. Equal keys
    give equal kernel scalars. A scalar's precision is in the layout, which is fixed per record, so
    that :meth:`Checked.scalar_values` reads every scalar as a Python float."""
    layout = tuple(
        (key, value)
        if not is_scalar(rule, key, value)
        else (key, np.float32)
        if isinstance(value, np.float32)
        else key
        for key, value in current.items()
    )
    return layout, tuple(value for key, value in current.items() if is_scalar(rule, key, value))


def from_key(layout: tuple, values: tuple) -> State:
    """The state :func:`scalar_key` made ``(layout, values)`` of."""
    out, scalars = {}, iter(values)
    for entry in layout:
        if isinstance(entry, str):
            out[entry] = next(scalars)
        elif entry[1] is np.float32:  # a scalar read at its stored precision
            out[entry[0]] = np.float32(next(scalars))
        else:
            out[entry[0]] = entry[1]
    return out


def numpy_view(value: Any) -> np.ndarray | None:
    """A NumPy view of a 0-dim float CPU tensor (its one number, read and written in place), else None."""
    if (
        type(value) in PLAIN_TENSORS
        and value.is_cpu
        and value.dim() == 0
        and value.dtype in (torch.float32, torch.float64)
        and not value.requires_grad
    ):
        return value.numpy()
    return None


class Checked:
    """A parameter found fit for a kernel, and what it was found fit with (see the module's doc)."""

    __slots__ = (
        "param",
        "address",
        "kernel",
        "tensors",
        "addresses",
        "state_tensors",
        "state_addresses",
        "p_state",
        "layout",
        "scalars",
        "views",
        "rounded",
        "written",
        "where",
        "size",
        "dtype",
        "shape",
        "complex",
        "cpu",
    )

    def __init__(
        self, rule: Rule, param: torch.Tensor, p_state: State, kernel: Any, tensors: tuple, kind: tuple
    ) -> None:
        self.param, self.address, self.kernel = param, param.data_ptr(), kernel
        self.tensors = tensors
        self.addresses = [0 if t is None else t.data_ptr() for t in tensors]
        self.state_tensors = [t for t in tensors if t is not None]
        self.state_addresses = [t.data_ptr() for t in self.state_tensors]
        self.p_state = p_state
        self.layout = scalar_key(rule, read_scalars(rule, p_state))[0]
        #: per scalar key: the tensor holding it (None for a Python number) and its NumPy view
        self.scalars = tuple(
            (key, value if isinstance(value, torch.Tensor) else None, numpy_view(value))
            for key, value in p_state.items()
            if is_scalar(rule, key, value)
        )
        self.views = {key: view for key, _, view in self.scalars if view is not None}
        #: the scalars :meth:`value` reads as NumPy float32s (:func:`.engine.scalar_number`)
        self.rounded = frozenset(e[0] for e in self.layout if isinstance(e, tuple) and e[1] is np.float32)
        # a view keeps pointing at the memory it was made on: its tensor's address is checked too
        scalar_tensors = [t for _, t, view in self.scalars if view is not None]
        self.state_tensors += scalar_tensors
        self.state_addresses += [t.data_ptr() for t in scalar_tensors]
        # what the step writes behind autograd's back: the kernel's arrays, the scalars' views
        self.written = [param, *self.state_tensors]
        self.where = (param.device, kind[0], kernel.name)
        self.size = param.numel() * kind[1]
        self.dtype, self.shape, self.complex, self.cpu = param.dtype, param.shape, kind[1] == 2, param.is_cpu

    def scalar_values(self, param: torch.Tensor, grad: torch.Tensor, p_state: State) -> tuple | None:
        """The scalar state's values (as :func:`scalar_key`), or None if anything checked was swapped.

        ``param`` is the record's own (the engine finds records by ``id(param)``, and the record
        keeps its parameter alive, so no other tensor can take that id).
        """
        if not (
            param.data_ptr() == self.address
            and p_state is self.p_state
            and len(p_state) == len(self.layout)
            and type(grad) in PLAIN_TENSORS
            and grad.layout is torch.strided
            and grad.dtype is self.dtype
            and grad.shape == self.shape  # a parameter reshaped in place gets a gradient of its new shape
            and grad.is_contiguous()
            and not grad.is_neg()
            and not (self.complex and grad.is_conj())  # only complex tensors carry a conjugate bit
            and (grad.is_cpu if self.cpu else grad.device == param.device)
        ):
            return None
        values = []
        for key, tensor, view in self.scalars:
            value = p_state.get(key)
            if tensor is None:
                if isinstance(value, torch.Tensor):
                    return None
                values.append(value)
            elif value is not tensor:
                return None
            else:
                values.append(tensor.item() if view is None else view.item())
        return tuple(values)

    def value(self, key: str) -> Any:
        """Scalar state ``key`` as a Python number (through its view where it has one), for a
        caller that confirmed the record this step (:meth:`scalar_values`)."""
        view = self.views.get(key)
        if view is not None:
            return view[()] if key in self.rounded else view.item()
        value = self.p_state[key]
        number = value.item() if isinstance(value, torch.Tensor) else value
        return np.float32(number) if key in self.rounded else number

    def holds(self, kernel: Any, tensors: tuple) -> bool:
        """Whether ``kernel`` and its state ``tensors`` are those checked (same objects, same memory;
        the scalars' tensors in the same memory too)."""
        return (
            kernel is self.kernel
            and len(tensors) == len(self.tensors)
            and all(map(operator.is_, tensors, self.tensors))
            and list(map(torch.Tensor.data_ptr, self.state_tensors)) == self.state_addresses
        )

    def store(self, new: State) -> None:
        """Write a step's new scalar state (and arrays to fill: SWATS's reset momentum)."""
        views, p_state = self.views, self.p_state
        for key, value in new.items():
            view = views.get(key)
            if view is not None:
                view[()] = value
                continue
            stored = p_state.get(key)
            if isinstance(stored, torch.Tensor):
                stored.fill_(value)
            else:
                p_state[key] = value
