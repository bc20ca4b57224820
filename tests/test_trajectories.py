"""``adamkit trajectories``: paths against torch's optimizers, the AMSGrad counterexample, figures, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.image import imread

import adamkit.numpy
import adamkit.torch
from adamkit.cli import main
from adamkit.lab import trajectories
from adamkit.lab.functions import get
from adamkit.lab.optimizers import OPTIMIZERS, numpy_names
from adamkit.lab.trajectories import SETTINGS, Run, animate, default_lr, plot, run_all, trajectory
from harness import training

LAB_NAMES = numpy_names()  # trajectories run on adamkit.numpy: no low-bit names


def torch_trajectory(function: str, optimizer_cls: type, steps: int, **kwargs: object) -> np.ndarray:
    """The same run through a torch optimizer, gradients by autograd, clamped like the lab."""
    f = get(function)
    p = torch.tensor(f.start, dtype=torch.float64, requires_grad=True)
    opt = optimizer_cls([p], **kwargs)
    training(opt)
    path = [p.detach().clone()]
    for t in range(1, steps + 1):
        opt.zero_grad()
        f.value(p, t).backward()
        opt.step()
        if f.constrained:
            with torch.no_grad():
                p.clamp_(*f.box[0])
        path.append(p.detach().clone())
    return torch.stack(path).numpy()


def needs(name: str) -> None:
    if getattr(adamkit.numpy, OPTIMIZERS[name].class_name, None) is None:
        pytest.skip(f"adamkit.numpy.{OPTIMIZERS[name].class_name} not available yet")


@pytest.mark.parametrize("function", ["rosenbrock", "beale", "ill_conditioned", "saddle", "sphere"])
def test_adam_path_matches_adamkit_torch_adam(function: str, float64_default: None) -> None:
    steps, lr = 300, default_lr(function, "adam")
    ours = trajectory(function, "adam", steps)
    assert ours.shape == (steps + 1, 2) and ours.dtype == np.float64
    theirs = torch_trajectory(function, adamkit.torch.Adam, steps, lr=lr)
    scale = max(1.0, float(np.abs(theirs).max()))
    assert np.abs(ours - theirs).max() <= 1e-12 * scale
    oracle = torch_trajectory(function, torch.optim.Adam, steps, lr=lr)
    assert np.abs(ours - oracle).max() <= 1e-12 * scale


def test_amsgrad_on_the_counterexample_matches_adamkit_torch(float64_default: None) -> None:
    steps = 101 * 5
    ours = trajectory("amsgrad_counter", "amsgrad", steps)
    assert ours.shape == (steps + 1, 1)
    theirs = torch_trajectory(
        "amsgrad_counter",
        adamkit.torch.Adam,
        steps,
        lr=default_lr("amsgrad_counter", "amsgrad"),
        betas=(0.9, 0.99),
        amsgrad=True,
    )
    assert np.abs(ours - theirs).max() <= 1e-12


@pytest.mark.parametrize("name", [n for n in LAB_NAMES if n != "swats"])
def test_every_lab_optimizer_follows_its_torch_optim_peer(name: str, float64_default: None) -> None:
    """The lab's names build the right class and options (momentum = SGD(momentum=0.9), ...).

    (torch keeps scalar state such as NAdam's mu_product in float64 only under a float64 default.)
    """
    needs(name)
    spec = OPTIMIZERS[name]
    steps, lr = 100, default_lr("rosenbrock", name)
    ours = trajectory("rosenbrock", name, steps)
    # torch.optim's class, or adamkit.torch's where torch has none (the modern family)
    peer = getattr(torch.optim, spec.class_name, None) or getattr(adamkit.torch, spec.class_name)
    if "cautious" in spec.options:  # torch.optim has no cautious masking
        peer = getattr(adamkit.torch, spec.class_name)
    oracle = torch_trajectory("rosenbrock", peer, steps, lr=lr, **spec.options)
    assert np.abs(ours - oracle).max() <= 1e-10 * max(1.0, float(np.abs(oracle).max()))


def test_adams_first_step_has_the_size_of_the_learning_rate() -> None:
    """Bias correction makes step 1 of Adam lr * sign(g) in every coordinate, whatever |g|."""
    path = trajectory("rosenbrock", "adam", steps=1, lr=0.125)
    g = get("rosenbrock").grad(path[0])
    np.testing.assert_allclose(path[1] - path[0], -0.125 * np.sign(g), rtol=1e-6)


def test_adam_versus_amsgrad_on_reddi_et_al_counterexample() -> None:
    """Adam is drawn to the worst point +1; AMSGrad heads for the best fixed point -1."""
    steps = SETTINGS["amsgrad_counter"].steps
    adam = trajectory("amsgrad_counter", "adam", steps)[:, 0]
    ams = trajectory("amsgrad_counter", "amsgrad", steps)[:, 0]
    last_period = slice(-101, None)
    assert adam[-1] > 0.95 and adam[last_period].mean() > 0.85
    assert ams[-1] < -0.75 and ams[last_period].mean() < -0.85
    assert ams[last_period].min() == -1.0  # it reaches the boundary (clamped) every period
    # projected onto [-1, 1]: Adam sits on the upper bound, both stay feasible
    assert adam.max() == 1.0 and np.abs(adam).max() <= 1.0 and np.abs(ams).max() <= 1.0


def test_adam_reaches_rosenbrocks_minimum() -> None:
    path = trajectory("rosenbrock", "adam", steps=3000)
    np.testing.assert_allclose(path[-1], [1.0, 1.0], atol=1e-3)
    assert float(get("rosenbrock").value(path[-1])) < 1e-8


def test_start_steps_and_names_are_checked() -> None:
    assert trajectory("sphere", "sgd", steps=0).tolist() == [list(get("sphere").start)]
    np.testing.assert_array_equal(trajectory("sphere", "adam", 3, start=(0.5, 0.5))[0], [0.5, 0.5])
    with pytest.raises(ValueError, match="steps must be >= 0"):
        trajectory("sphere", "adam", -1)
    with pytest.raises(ValueError, match="Unknown optimizer 'lbfgs'"):
        trajectory("sphere", "lbfgs", 3)
    with pytest.raises(ValueError, match="Unknown test function"):
        trajectory("himmelblau", "adam", 3)
    with pytest.raises(ValueError, match="start must have 2 coordinates"):
        trajectory("sphere", "adam", 3, start=(0.5,))


def test_a_diverging_run_is_cut_and_reported() -> None:
    path = trajectory("rosenbrock", "sgd", steps=50, lr=1.0)
    run = Run("sgd", 1.0, path)
    assert run.diverged and np.isnan(path[-1]).all() and np.isfinite(run.final).all()
    assert any("diverged" in line for line in trajectories.table(get("rosenbrock"), [run]))


def test_every_setting_names_a_rate_for_every_lab_optimizer() -> None:
    for name, setting in SETTINGS.items():
        get(name)  # a real function
        assert set(setting.lrs) == set(LAB_NAMES), name
        assert set(setting.optimizers) <= set(LAB_NAMES)


def assert_real_picture(path: Path, min_size: tuple[int, int] = (400, 300)) -> np.ndarray:
    image = imread(path)
    height, width = image.shape[:2]
    assert width >= min_size[0] and height >= min_size[1]
    pixels = image[..., :3].reshape(-1, 3)
    assert not np.all(pixels == pixels[0])
    assert len(np.unique((pixels * 255).astype(np.uint8), axis=0)) > 200  # contours, lines, text
    return image


@pytest.mark.parametrize(
    ("function", "steps"), [("rosenbrock", 200), ("saddle", 60), ("amsgrad_counter", 505)]
)
def test_plot_writes_a_real_png(function: str, steps: int, tmp_path: Path) -> None:
    f = get(function)
    runs = run_all(f, ["adam", "amsgrad"], steps)
    out = plot(f, runs, tmp_path / "sub" / f"{function}.png")
    assert out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = assert_real_picture(out, (1000, 500))
    assert image.shape[1] > image.shape[0]  # two panels side by side


def test_gif_has_frames(tmp_path: Path) -> None:
    from PIL import Image

    f = get("sphere")
    out = animate(f, run_all(f, ["adam", "sgd"], 30), tmp_path / "sphere.gif", frames=10, fps=5)
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.n_frames >= 10


def test_command_prints_the_table_and_writes_the_png(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = "trajectories --function sphere --optimizers adam,sgd --steps 40 --gif --out".split()
    status = main([*argv, str(tmp_path)])
    assert status == 0
    out = capsys.readouterr().out
    png, gif = tmp_path / "trajectories-sphere.png", tmp_path / "trajectories-sphere.gif"
    assert f"PNG: {png.resolve()}" in out and f"GIF: {gif.resolve()}" in out
    assert_real_picture(png)
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("adam ", "sgd "))}
    for name in ("adam", "sgd"):
        final = trajectory("sphere", name, 40)[-1]
        lr, x, y, loss = (float(v) for v in rows[name][1:5])
        assert lr == default_lr("sphere", name)
        np.testing.assert_allclose([x, y], final, rtol=1e-5, atol=1e-12)
        assert loss == pytest.approx(float(get("sphere").value(final)), rel=1e-5)


def test_command_with_an_explicit_lr(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = "trajectories --function beale --optimizers rmsprop --steps 5 --lr 0.25 --out".split()
    assert main([*argv, str(tmp_path)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("rmsprop"))
    assert row.split()[1] == "0.25"


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--function", "himmelblau"], "unknown function 'himmelblau'"),
        (["--optimizers", "adam,lbfgs"], "unknown optimizer 'lbfgs'"),
        (["--optimizers", "adam,adam"], "named twice"),
        (["--steps", "-5"], "--steps"),
        (["--steps", "ten"], "--steps"),
        (["--lr", "-0.1"], "--lr"),
        (["--lr", "0"], "--lr"),
    ],
)
def test_command_errors_are_one_line(argv: list[str], words: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["trajectories", *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and words in err and err.startswith("adamkit trajectories: error:")
