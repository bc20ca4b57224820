"""SGD, RMSprop, Adagrad and Adadelta rows of the case table: every flag torch.optim supports."""

from itertools import product

import torch

from . import BadInput, Case, Convergence


def sgd_lr(momentum: float, maximize: bool) -> float:
    """Maximising the harness's quartic bowl blows up in finite time under gradient ascent
    (dp/dt = p + 0.2 p^3: by t = 0.3 from p = 2.5): ascend slowly enough, momentum's 1/(1 - mu)
    included, that the 200 steps (and the complex test's 50) stay finite."""
    if maximize:
        return 1e-5 if momentum else 1e-3
    return 0.02 if momentum else 0.05


SGD_CASES = [
    Case("SGD", dict(lr=sgd_lr(0, mx), weight_decay=wd, maximize=mx))
    for wd, mx in product((0.0, 0.1), (False, True))
]
# heavy ball, Nesterov (needs dampening 0), and damped heavy ball
SGD_CASES += [
    Case(
        "SGD",
        dict(lr=sgd_lr(0.9, mx), momentum=0.9, dampening=damp, nesterov=nest, weight_decay=wd, maximize=mx),
    )
    for (damp, nest), wd, mx in product(((0.0, False), (0.0, True), (0.3, False)), (0.0, 0.1), (False, True))
]
SGD_CASES += [Case("SGD"), Case("SGD", dict(lr=0.02, momentum=0.5, dampening=0.5))]

RMSPROP_CASES = [
    Case("RMSprop", dict(lr=0.01, centered=c, momentum=m, weight_decay=wd, maximize=mx))
    for c, m, wd, mx in product((False, True), (0.0, 0.9), (0.0, 0.1), (False, True))
]
RMSPROP_CASES += [Case("RMSprop"), Case("RMSprop", dict(lr=0.005, alpha=0.9, eps=1e-4, centered=True))]

ADAGRAD_CASES = [
    Case("Adagrad", dict(lr=0.1, lr_decay=decay, initial_accumulator_value=acc, weight_decay=wd))
    for decay, acc, wd in product((0.0, 0.01), (0.0, 0.1), (0.0, 0.1))
]
ADAGRAD_CASES += [
    Case("Adagrad", dict(lr=0.1, maximize=True)),
    Case("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, maximize=True, eps=1e-6)),
    Case("Adagrad"),
]

ADADELTA_CASES = [
    Case("Adadelta", dict(weight_decay=wd, maximize=mx)) for wd, mx in product((0.0, 0.1), (False, True))
]
ADADELTA_CASES += [
    Case("Adadelta", dict(lr=0.5, rho=0.5)),
    Case("Adadelta", dict(lr=2.0, rho=0.95, eps=1e-4, weight_decay=0.05)),
    # torch allows rho == 1: the running means never move, so the step is lr * g (a small lr)
    Case("Adadelta", dict(lr=0.1, rho=1.0)),
]

CASES: list[Case] = SGD_CASES + RMSPROP_CASES + ADAGRAD_CASES + ADADELTA_CASES

BAD_INPUTS: list[BadInput] = [
    BadInput("SGD", dict(lr=-0.1), "lr"),
    BadInput("SGD", dict(lr=torch.tensor([0.1, 0.2])), "lr"),  # a tensor lr must have one element
    BadInput("SGD", dict(momentum=-0.5), "momentum"),
    BadInput("SGD", dict(weight_decay=-1e-4), "weight_decay"),
    BadInput("SGD", dict(nesterov=True), "nesterov"),  # no momentum
    BadInput("SGD", dict(momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    BadInput("RMSprop", dict(lr=-0.01), "lr"),
    BadInput("RMSprop", dict(eps=-1e-8), "eps"),
    BadInput("RMSprop", dict(momentum=-0.1), "momentum"),
    BadInput("RMSprop", dict(weight_decay=-0.1), "weight_decay"),
    BadInput("RMSprop", dict(alpha=-0.5), "alpha"),
    BadInput("Adagrad", dict(lr=-0.01), "lr"),
    BadInput("Adagrad", dict(lr_decay=-0.1), "lr_decay"),
    BadInput("Adagrad", dict(weight_decay=-0.1), "weight_decay"),
    BadInput("Adagrad", dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    BadInput("Adagrad", dict(eps=-1e-10), "eps"),
    BadInput("Adadelta", dict(lr=-1.0), "lr"),
    BadInput("Adadelta", dict(rho=1.1), "rho"),
    BadInput("Adadelta", dict(rho=-0.1), "rho"),
    BadInput("Adadelta", dict(eps=-1e-6), "eps"),
    BadInput("Adadelta", dict(weight_decay=-0.1), "weight_decay"),
]

CONVERGENCE: list[Convergence] = [
    # Rosenbrock's curvature across the valley (about 1000 at the minimum) caps SGD's lr near
    # 2e-3 (plain SGD: lr=2e-3 err 3e-4, lr=5e-3 stalls at err 0.7, lr=1e-3 err 1.5e-2);
    # heavy-ball momentum at lr=1e-3 gets there with room to spare (err 2e-15).
    Convergence("SGD", parabola=dict(lr=0.1), rosenbrock=dict(lr=1e-3, momentum=0.9)),
    Convergence("RMSprop", parabola=dict(lr=0.01), rosenbrock=dict(lr=1e-3)),
    Convergence("Adagrad", parabola=dict(lr=0.5), rosenbrock=dict(lr=0.5)),
    # Adadelta's steps grow only as fast as its running mean of past steps: on Rosenbrock's
    # valley the default rho=0.9 (err 0.57 after 10,000 steps) and a larger lr (2, 3, 5: worse)
    # stall; a long memory, rho=0.9999 at lr=1, reaches the minimum (err 4e-3).
    Convergence("Adadelta", parabola=dict(lr=1.0), rosenbrock=dict(lr=1.0, rho=0.9999)),
]
