"""torch's eager Keras step runs the rule once over every variable (adamkit.keras.tensor_list).

* :class:`TensorList` arithmetic and NumPy's functions on it give, tensor by tensor, the bits
  torch's own operations give (the multi-tensor ``torch._foreach_*`` operations included).
* An optimizer whose class sets ``multi_tensor`` takes the path, and its steps equal bit for
  bit the one-variable-at-a-time steps (float32 and float64, AMSGrad, Keras's and torch's
  epsilon, weight decay, a variable left without a gradient, a float16 variable among float32
  ones), and a subclass that overrides a step hook keeps its own step.

Against Keras's own optimizers the path is checked by tests/test_keras_parity.py, whose Adam
cases now run it.
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"  # before Keras is imported; the library never sets it

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import adamkit.keras as ak  # noqa: E402
from adamkit.keras.optimizer import RuleOptimizer  # noqa: E402
from adamkit.keras.tensor_list import TensorList  # noqa: E402

if keras.backend.backend() != "torch":
    pytest.skip("these tests run Keras on the torch backend", allow_module_level=True)

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    pytest.mark.filterwarnings("ignore:Gradients do not exist"),  # the variable left without one
]

SHAPES = [(4, 3), (3,), (), (2, 5)]


def tensors(seed: int, dtype=torch.float32) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=generator, dtype=dtype) + 2.0 for s in SHAPES]


def same_bits(ours: TensorList, theirs: list[torch.Tensor]) -> None:
    assert len(ours.tensors) == len(theirs)
    for a, b in zip(ours.tensors, theirs, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)


# ----------------------------------------------------------------------------- the list


@pytest.mark.parametrize(
    "name, ours, theirs",
    [
        ("a + b", lambda a, b, s: a + b, lambda a, b, s: a + b),
        ("a - b", lambda a, b, s: a - b, lambda a, b, s: a - b),
        ("a * b", lambda a, b, s: a * b, lambda a, b, s: a * b),
        ("a / b", lambda a, b, s: a / b, lambda a, b, s: a / b),
        ("0.3 - a", lambda a, b, s: 0.3 - a, lambda a, b, s: 0.3 - a),
        ("0.3 / a", lambda a, b, s: 0.3 / a, lambda a, b, s: 0.3 / a),
        ("0.3 * a", lambda a, b, s: 0.3 * a, lambda a, b, s: 0.3 * a),
        ("a + 1e-7", lambda a, b, s: a + 1e-7, lambda a, b, s: a + 1e-7),
        ("tensor * a", lambda a, b, s: s * a, lambda a, b, s: s * a),
        ("a / tensor", lambda a, b, s: a / s, lambda a, b, s: a / s),
        ("tensor - a", lambda a, b, s: s - a, lambda a, b, s: s - a),
        ("-a", lambda a, b, s: -a, lambda a, b, s: -a),
        ("abs(a - b)", lambda a, b, s: abs(a - b), lambda a, b, s: abs(a - b)),
        ("a ** 2", lambda a, b, s: a**2, lambda a, b, s: a**2),
        ("np.sqrt", lambda a, b, s: np.sqrt(a), lambda a, b, s: torch.sqrt(a)),
        ("np.expm1", lambda a, b, s: np.expm1(a), lambda a, b, s: torch.expm1(a)),
        ("np.exp", lambda a, b, s: np.exp(a), lambda a, b, s: torch.exp(a)),
        ("np.sign", lambda a, b, s: np.sign(a - b), lambda a, b, s: torch.sign(a - b)),
        ("np.maximum", lambda a, b, s: np.maximum(a, b), lambda a, b, s: torch.maximum(a, b)),
        ("np.where", lambda a, b, s: np.where(a < b, a, b), lambda a, b, s: torch.where(a < b, a, b)),
        ("np.zeros_like", lambda a, b, s: np.zeros_like(a), lambda a, b, s: torch.zeros_like(a)),
        ("lerp", lambda a, b, s: a + 0.1 * (b - a), lambda a, b, s: a + 0.1 * (b - a)),
    ],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_operations_give_the_bits_of_torch_tensor_by_tensor(name, ours, theirs):
    a, b = tensors(0), tensors(1)
    scale = torch.tensor(0.7)
    result = ours(TensorList(a), TensorList(b), scale)
    expected = [theirs(x, y, scale) for x, y in zip(a, b, strict=True)]
    same_bits(result, expected)


def test_multiplying_or_dividing_by_one_is_the_list_itself():
    a = TensorList(tensors(0))
    assert a * 1 is a and 1.0 * a is a and a / 1.0 is a
    assert a + 0.0 is not a  # -0.0 + 0.0 is +0.0: not exact, so it computes


def test_an_unknown_operation_is_refused():
    with pytest.raises(TypeError):
        np.cosh(TensorList(tensors(0)))
    with pytest.raises(ValueError, match="different lengths"):
        TensorList(tensors(0)) + TensorList(tensors(1)[:2])


# ----------------------------------------------------------------------------- the optimizers


def steps(optimizer, dtypes: list[str], count: int = 25, skip: bool = True) -> list[np.ndarray]:
    """``count`` steps on variables of ``dtypes``; the last lacks a gradient every 4th step."""
    rng = np.random.default_rng(0)
    shapes = [(4, 3), (3,), (5,), (2, 2)][: len(dtypes)]
    starts = [rng.standard_normal(s).astype(d) for s, d in zip(shapes, dtypes, strict=True)]
    variables = [keras.Variable(start) for start in starts]
    for step in range(count):
        grads = [
            torch.from_numpy(np.random.default_rng([step, i]).standard_normal(v.shape).astype(v.dtype))
            for i, v in enumerate(variables)
        ]
        if skip and step % 4 == 1:
            grads[-1] = None
        optimizer.apply(grads, variables)
    return [v.numpy() for v in variables] + [v.numpy() for v in optimizer.variables]


CASES = [
    ("Adam", {}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True}),
    ("Adam", {"learning_rate": 0.01, "convention": "torch", "epsilon": 1e-3}),
    ("Adam", {"learning_rate": keras.optimizers.schedules.ExponentialDecay(0.01, 3, 0.5)}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("Adamax", {"learning_rate": 0.01}),
    ("Nadam", {"learning_rate": 0.01}),
    ("RAdam", {"learning_rate": 0.01}),  # its rectification's switch: a where on the list
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True}),
    ("Adagrad", {"learning_rate": 0.1}),
    ("Adadelta", {"learning_rate": 1.0}),
    ("Lion", {"learning_rate": 0.01}),
    ("AdEMAMix", {"learning_rate": 0.01, "t_alpha": 10, "t_beta3": 10}),
    ("AdaBelief", {"learning_rate": 0.01, "amsgrad": True}),
]
DTYPES = [["float32"] * 4, ["float64"] * 4, ["float32", "float16", "float32", "float64"]]


@pytest.mark.parametrize("dtypes", DTYPES, ids=lambda d: "-".join(sorted(set(d))))
@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}{sorted(k)}" for n, k in CASES])
def test_steps_together_equal_steps_one_by_one(name, kwargs, dtypes, monkeypatch):
    together = getattr(ak, name)(**kwargs)
    calls = []
    original = RuleOptimizer._update_together
    monkeypatch.setattr(
        RuleOptimizer, "_update_together", lambda self, *a: calls.append(len(a[1])) or original(self, *a)
    )
    ours = steps(together, dtypes)
    assert calls and max(calls) >= 2  # the path ran, several variables in one call

    one_by_one = getattr(ak, name)(**kwargs)
    one_by_one.multi_tensor = False
    calls.clear()
    theirs = steps(one_by_one, dtypes)
    assert not calls
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["Lion", "AdEMAMix"])
def test_cautious_masking_steps_one_by_one(name):
    """The cautious rescale sums over each tensor: those optimizers keep the per-variable step."""
    assert getattr(ak, name)().multi_tensor and not getattr(ak, name)(cautious=True).multi_tensor


def test_a_subclass_that_overrides_a_step_hook_keeps_its_step():
    seen = []

    class Traced(ak.Adam):
        def update_step(self, gradient, variable, learning_rate):
            seen.append(variable.path)
            super().update_step(gradient, variable, learning_rate)

    steps(Traced(), ["float32"] * 4, count=2, skip=False)
    assert len(seen) == 8


# ---------------------------------------------------------------- shared scalars, in place, replay


def test_a_repeated_tensor_computes_once_with_the_bits_of_each():
    step = torch.tensor(3.0)
    shared = TensorList.repeat(step, 4)
    corrected = -np.expm1(shared * np.log(0.999))  # a bias correction, as the rules write it
    assert all(t is corrected.tensors[0] for t in corrected.tensors)  # one tensor: computed once
    same_bits(corrected, [-torch.expm1(step * np.log(0.999))] * 4)
    full = TensorList(tensors(0))
    same_bits(full / corrected, [x / -torch.expm1(step * np.log(0.999)) for x in tensors(0)])


def test_only_scalars_with_the_same_bits_are_shared():
    from adamkit.keras.tensor_list import repeat_if_equal

    zeros = TensorList([torch.tensor(0.0), torch.tensor(-0.0)])  # equal, yet 1 / x differs
    assert repeat_if_equal(zeros) is zeros
    twos = repeat_if_equal(TensorList([torch.tensor(2.0), torch.tensor(2.0)]))
    assert twos.tensors[0] is twos.tensors[1]


def test_write_overwrites_only_what_no_one_reads_afterwards():
    from adamkit.keras.tensor_list import write

    a, b, g = TensorList(tensors(0)), TensorList(tensors(1)), TensorList(tensors(2))
    a0, b0, g0 = ([t.clone() for t in x.tensors] for x in (a, b, g))
    twice = g * 2.0  # a temporary with two readers
    new_a = a + 0.1 * (g - a)  # reads the old a twice; its target is a
    new_b = a + twice  # the old a once more, after new_a's operations
    write([(new_a, a), (new_b, b), (twice * 3.0, g)])
    same_bits(a, [x + 0.1 * (y - x) for x, y in zip(a0, g0, strict=True)])
    same_bits(b, [x + y * 2.0 for x, y in zip(a0, g0, strict=True)])
    same_bits(g, [y * 2.0 * 3.0 for y in g0])
    assert b0  # (b's old value was read by nothing)


def test_a_state_that_becomes_another_is_copied_before_it_changes():
    from adamkit.keras.tensor_list import write

    a, b = TensorList(tensors(0)), TensorList(tensors(1))
    a0, b0 = ([t.clone() for t in x.tensors] for x in (a, b))
    write([(b * 2.0, b), (b, a)])  # new a is the old b; new b doubles it
    same_bits(a, b0)
    same_bits(b, [x * 2.0 for x in b0])
    assert a0


def test_the_gradients_are_left_as_they_were():
    variables = [keras.Variable(np.ones(s, "float32")) for s in SHAPES]
    gradients = tensors(3)
    before = [g.clone() for g in gradients]
    optimizer = ak.Adam(learning_rate=0.01)
    for _ in range(3):
        optimizer.apply(gradients, variables)
    same_bits(TensorList(gradients), before)


def test_a_step_recorded_once_replays_and_a_changed_hyperparameter_records_anew(monkeypatch):
    from adamkit.keras import tensor_list

    recorded = []
    original = tensor_list.record
    monkeypatch.setattr(tensor_list, "record", lambda *a: recorded.append(1) or original(*a))

    def train(optimizer):
        variables = [keras.Variable(np.ones(s, "float32")) for s in SHAPES]
        for step in range(8):
            if step == 4:
                optimizer.beta_1, optimizer.epsilon = 0.5, 1e-3
            optimizer.apply(tensors(step), variables)
        return [v.numpy() for v in variables] + [v.numpy() for v in optimizer.variables]

    ours = train(ak.Adam(learning_rate=0.01))
    assert len(recorded) == 2  # one program before the change, one after; the other steps replay
    one_by_one = ak.Adam(learning_rate=0.01)
    one_by_one.multi_tensor = False
    for a, b in zip(ours, train(one_by_one), strict=True):
        np.testing.assert_array_equal(a, b)
