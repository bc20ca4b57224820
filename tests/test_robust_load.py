"""load_state_dict checks everything first: a refused checkpoint changes nothing (issue 17).

A table of corruptions (each with the words its error must contain) and a fuzz test over every
optimizer at 32, 16 and 8 bits: a corrupted state_dict either loads and the next step is finite,
or raises a ValueError and leaves the optimizer bit-identical and able to step.
"""

from __future__ import annotations

import copy
import random
import re

import pytest
import torch

import adamkit.torch as ak
from adamkit.torch.lowbit.state import allowed_bits
from cases import ALGORITHMS
from harness import training
from snapshots import assert_same, snapshot

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors: threads only contend

#: kwargs under which each algorithm keeps state (SGD only has some with momentum)
KWARGS = {"SGD": dict(momentum=0.9), "RMSprop": dict(momentum=0.5), "Adam": dict(amsgrad=True)}


def params_for(seed: int = 0) -> list[torch.nn.Parameter]:
    """One tensor 8-bit state compresses (4096 values) and one it keeps in float32."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(shape, generator=gen)) for shape in ((64, 64), (5,))]


def trained(algo: str, bits: int, steps: int = 3, seed: int = 0):
    if bits not in allowed_bits(getattr(ak, algo).rule):
        pytest.skip(f"{algo} keeps 32-bit state only")
    params = params_for(seed)
    opt = getattr(ak, algo)(params, lr=1e-2, state_bits=bits, **KWARGS.get(algo, {}))
    training(opt)
    for step in range(steps):
        step_once(opt, params, step)
    return opt, params


def step_once(opt, params, step: int) -> None:
    gen = torch.Generator().manual_seed(500 + step)
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen)
    opt.step()


def saved(opt) -> dict:
    return copy.deepcopy(opt.state_dict())


def refused_and_unchanged(opt, params, state_dict, *words: str) -> None:
    before = snapshot(opt, params)
    with pytest.raises(ValueError) as error:
        opt.load_state_dict(state_dict)
    for word in words:
        assert re.search(word, str(error.value)), (word, str(error.value))
    assert_same(snapshot(opt, params), before)
    step_once(opt, params, 99)  # and it still steps
    assert all(torch.isfinite(p).all() for p in params)


# --- the table: (name, optimizer, state_bits, corruption of the saved state_dict, words of the error)


def _drop(key):
    def corrupt(sd):
        del sd["state"][0][key]

    return corrupt


def _set(key, value):
    def corrupt(sd):
        sd["state"][0][key] = value(sd["state"][0][key])

    return corrupt


def _mark(title):
    def corrupt(sd):
        sd["adamkit"]["optimizer"] = title

    return corrupt


def _negative_absmax(t):
    t = t.clone()
    t[1] = -1.0
    return t


def _nan_at_0(t):
    t = t.clone()
    t.view(-1)[0] = float("nan")
    return t


CORRUPTIONS = [
    ("truncated absmax", "Adam", 8, _set("exp_avg_absmax", lambda t: t[:-1]), ["exp_avg_absmax", r"\(16,\)"]),
    ("missing codes", "Adam", 8, _drop("exp_avg_codes"), ["exp_avg_absmax", "without", "exp_avg_codes"]),
    ("missing moment", "Adam", 32, _drop("exp_avg"), ["lacks 'exp_avg'"]),
    ("missing step", "NAdam", 16, _drop("step"), ["lacks 'step'"]),
    ("negative absmax", "Adam", 8, _set("exp_avg_sq_absmax", _negative_absmax), [r"sq_absmax'\[1\]", ">= 0"]),
    ("NaN absmax", "RMSprop", 8, _set("square_avg_absmax", _nan_at_0), [r"square_avg_absmax'\[0\] is nan"]),
    ("inf absmax", "SGD", 8, _set("momentum_buffer_absmax", lambda t: t * float("inf")), ["finite"]),
    ("codes of wrong dtype", "Adam", 8, _set("exp_avg_codes", lambda t: t.to(torch.int16)), ["torch.uint8"]),
    ("absmax of wrong dtype", "Adam", 8, _set("exp_avg_absmax", lambda t: t.double()), ["torch.float32"]),
    ("wrong shape", "Adam", 32, _set("exp_avg_sq", lambda t: t.t()[:10]), [r"'exp_avg_sq' has shape \(10,"]),
    ("flattened", "Adagrad", 32, _set("sum", lambda t: t.reshape(-1)), [r"shape \(4096,\)", r"\(64, 64\)"]),
    ("integer moment", "Adamax", 32, _set("exp_inf", lambda t: t.long()), ["real floating"]),
    ("NaN step", "Adam", 32, _set("step", _nan_at_0), ["'step' nan"]),
    ("negative step", "RAdam", 16, _set("step", lambda t: -t), [">= 0"]),
    ("step of two values", "Adadelta", 32, _set("step", lambda t: t.repeat(2)), ["one real number"]),
    ("NaN mu_product", "NAdam", 32, _set("mu_product", _nan_at_0), ["'mu_product' nan"]),
    ("two precisions", "Adam", 8, _set("exp_avg_codes", lambda t: t), []),  # see below: plain + codes
    ("wrong class mark", "Adam", 32, _mark("SGD"), ["state of SGD", "into Adam"]),
    ("wrong class mark 8-bit", "AdamW", 8, _mark("Adam"), ["state of Adam", "into AdamW"]),
]


@pytest.mark.parametrize("name,algo,bits,corrupt,words", CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_corrupted_state_dict_is_refused_and_changes_nothing(name, algo, bits, corrupt, words):
    source, _ = trained(algo, bits, steps=2, seed=1)
    state_dict = saved(source)
    corrupt(state_dict)
    if name == "two precisions":
        state_dict["state"][0]["exp_avg"] = torch.zeros(64, 64)
        words = ["in two precisions"]
    opt, params = trained(algo, bits)
    refused_and_unchanged(opt, params, state_dict, *words)


@pytest.mark.parametrize(
    "saved_by,loaded_into,words",
    [
        ("Adam", "SGD", ["'exp_avg'", "SGD does not keep", "Adam"]),  # trained at Adam's lr before
        ("SGD", "Adam", ["'momentum_buffer'", "SGD"]),  # was a bare KeyError: 'step' at the next step
        ("Adagrad", "RMSprop", ["'sum'", "Adagrad"]),
        ("Adamax", "Adam", ["'exp_inf'", "Adamax"]),
        ("Adam", "NAdam", ["'max_exp_avg_sq'", "Adam"]),  # AMSGrad's extra moment
    ],
)
def test_torch_optim_checkpoint_of_another_algorithm_is_refused(saved_by, loaded_into, words):
    """torch.optim records no class: the state keys tell the algorithm."""
    params = params_for(2)
    theirs = getattr(torch.optim, saved_by)(params, lr=1e-2, **KWARGS.get(saved_by, {}))
    for step in range(2):
        step_once(theirs, params, step)
    opt, mine = trained(loaded_into, 32)
    refused_and_unchanged(opt, mine, saved(theirs), *words)


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_torch_optim_checkpoint_of_the_same_algorithm_still_loads(algo):
    if not hasattr(torch.optim, algo):
        pytest.skip(f"torch.optim has no {algo}")
    params = params_for(3)
    theirs = getattr(torch.optim, algo)(params, lr=1e-2, **KWARGS.get(algo, {}))
    for step in range(2):
        step_once(theirs, params, step)
    opt, _ = trained(algo, 8 if 8 in allowed_bits(getattr(ak, algo).rule) else 32)
    opt.load_state_dict(saved(theirs))
    assert opt.state_dict()["adamkit"]["optimizer"] == algo


def test_refused_group_hyperparameters_change_nothing():
    source, _ = trained("Adam", 32)
    state_dict = saved(source)
    state_dict["param_groups"][0]["lr"] = -1.0
    opt, params = trained("Adam", 32)
    refused_and_unchanged(opt, params, state_dict, "param group 0", "lr")


# --- the fuzz test: random corruptions of every optimizer's state at every precision

KINDS = ("drop key", "drop state", "shape", "dtype", "scale", "scalar", "class", "foreign")


def corrupt_randomly(sd: dict, rng: random.Random, kind: str, algo: str) -> None:
    states = [s for s in sd["state"].values() if s]
    state = rng.choice(states)
    tensors = [k for k, v in state.items() if isinstance(v, torch.Tensor) and v.dim() > 0]
    if kind == "drop key":
        del state[rng.choice(sorted(state))]
    elif kind == "drop state":
        sd["state"].pop(rng.choice(sorted(sd["state"])))
    elif kind == "shape":
        key = rng.choice(tensors)
        value = state[key].reshape(-1)
        state[key] = rng.choice([value[:-1], torch.cat([value, value[:1]]), value.reshape(1, -1)])
    elif kind == "dtype":
        key = rng.choice(tensors)
        dtype = rng.choice([torch.float64, torch.float16, torch.int32, torch.uint8, torch.bool])
        state[key] = state[key].to(dtype)
    elif kind == "scale":
        scales = [k for k in tensors if k.endswith("_absmax")] or tensors
        key = rng.choice(scales)
        value = state[key].clone()
        bad = rng.choice([float("nan"), -1.0, float("inf"), -0.0, 1e30])
        value.view(-1)[rng.randrange(value.numel())] = bad
        state[key] = value
    elif kind == "scalar":
        scalars = [k for k, v in state.items() if isinstance(v, torch.Tensor) and v.dim() == 0] or tensors
        key = rng.choice(scalars)
        state[key] = torch.tensor(rng.choice([float("nan"), -3.0, float("inf"), 7.0]))
    elif kind == "class":
        sd["adamkit"]["optimizer"] = rng.choice([a for a in ALGORITHMS if a != algo])
    else:  # another algorithm's state, unmarked as torch.optim's would be
        other = rng.choice([a for a in ALGORITHMS if a != algo])
        sd["state"] = saved(trained(other, 32, steps=1)[0])["state"]
        sd["adamkit"].pop("optimizer")


@pytest.mark.parametrize("bits", [32, 16, 8])
@pytest.mark.parametrize("algo", ALGORITHMS)
def test_fuzz_corrupted_loads_either_work_or_change_nothing(algo, bits):
    rng = random.Random(f"{algo}-{bits}")
    source, _ = trained(algo, bits, seed=4)
    clean = saved(source)
    opt, params = trained(algo, bits)
    outcomes = {"loaded": 0, "refused": 0}
    for trial in range(len(KINDS)):
        state_dict = copy.deepcopy(clean)
        corrupt_randomly(state_dict, rng, KINDS[trial % len(KINDS)], algo)
        before = snapshot(opt, params)
        try:
            opt.load_state_dict(state_dict)
        except ValueError as error:
            assert str(error), "an error must say what is wrong"
            assert_same(snapshot(opt, params), before)
            outcomes["refused"] += 1
        else:
            outcomes["loaded"] += 1
        step_once(opt, params, trial)
        assert all(torch.isfinite(p).all() for p in params), (KINDS[trial % len(KINDS)], algo, bits)
        opt.load_state_dict(copy.deepcopy(clean))  # a good checkpoint always loads after a bad one
    assert outcomes["refused"] >= len(KINDS) // 2  # most corruptions are caught, some are harmless
