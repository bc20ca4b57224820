"""``adamkit claims``: an experiment per claim the articles make about Adam, and one page of verdicts.

The claims, in order (one module each in this package):

1. bias correction stabilises the first steps (:mod:`.bias`);
2. Adam is invariant to a diagonal rescaling of the gradients (:mod:`.rescaling`);
3. it needs little tuning (:mod:`.tunability`);
4. it suits sparse gradients (:mod:`.sparse`);
5. it converges faster than SGD (:mod:`.speed`, at the rates the tunability sweep chose);
6. it may fail to converge, which AMSGrad fixes (:mod:`.convergence`);
7. it may generalise worse than SGD with momentum, which SWATS fixes (:mod:`.generalisation`);
8. it is memory-light, two moving averages per parameter (:mod:`.memory`).

Each verdict ("holds here", "does not hold here", "depends on ...") is computed from the
measured numbers against the thresholds written in the experiment's module, and shown with
them. ``--quick`` runs everything on the embedded digits and small synthetic sets (a few
minutes on 2 cores); the full run uses Fashion-MNIST.

Example::

    adamkit claims --quick --out reports/claims
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from ...atomic import atomic_write_text
from ..output import CLAIM_PLOT_PREFIX, CLAIMS_FILES, REPORT_PAGE, prepare_report_folder
from ..runner import RunConfig, _finite_or_none, load_tensors
from . import bias, convergence, generalisation, memory, page, rescaling, sparse, speed, tunability
from .common import SCALES, Scale, Verdict

#: The experiments in the page's order (speed after tunability: it uses the rates chosen there).
EXPERIMENTS: tuple[ModuleType, ...] = (
    bias,
    rescaling,
    tunability,
    sparse,
    speed,
    convergence,
    generalisation,
    memory,
)


def run_claims(
    scale: Scale,
    folder: Path,
    overwrite: bool = False,
    only: list[str] | None = None,
    say: Any = print,
) -> tuple[Path, list[tuple[ModuleType, dict[str, Any], Verdict]]]:
    """Run each experiment at ``scale``, write its plot, and last the page; return it and the verdicts.

    ``only`` limits the run to the experiments of these keys (the others are left out of the page).
    """
    prepare_report_folder(folder, overwrite)
    experiments = [e for e in EXPERIMENTS if only is None or e.KEY in only]
    config = RunConfig(data=scale.data, train_limit=scale.train_limit)
    shared: dict[str, Any] = {"data": load_tensors(config)}
    folder.mkdir(parents=True, exist_ok=True)
    done = []
    for number, experiment in enumerate(experiments, 1):
        started = time.perf_counter()
        measured = experiment.measure(scale, shared)
        found = experiment.verdict(measured)
        measured["seconds"] = time.perf_counter() - started
        experiment.plot(measured, folder / f"{CLAIM_PLOT_PREFIX}{experiment.KEY}.png")
        say(f"{number}. {experiment.TITLE}: {found.outcome} ({measured['seconds']:.0f} s)")
        for note in measured.get("notes", []):
            say(f"   {note}")
        done.append((experiment, measured, found))
    numbers = {
        e.KEY: {
            "outcome": v.outcome,
            "reason": v.reason,
            "numbers": v.numbers,
            "thresholds": e.THRESHOLDS,
            "measured": m,
        }
        for e, m, v in done
    }
    atomic_write_text(folder / CLAIMS_FILES[0], json.dumps(_finite_or_none(numbers), indent=1) + "\n")
    settings = {"scale": scale.name, "data": scale.data, "date": time.strftime("%Y-%m-%d %H:%M")}
    path = folder / REPORT_PAGE
    atomic_write_text(path, page.render(done, folder, settings))
    return path, done


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..compare import add_common_arguments, add_overwrite_argument

    parser.add_argument(
        "--quick", action="store_true", help="the embedded digits and small synthetic sets (a few minutes)"
    )
    parser.add_argument(
        "--scale",
        choices=list(SCALES),
        default=None,
        help="full (Fashion-MNIST, the default), quick (= --quick) or tiny (a smoke run, for tests)",
    )
    parser.add_argument(
        "--only",
        type=lambda text: _keys(text),
        default=None,
        help="comma-separated claim keys to run: " + ", ".join(e.KEY for e in EXPERIMENTS),
    )
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: reports/claims-...)")
    add_overwrite_argument(parser)
    add_common_arguments(parser)


def _keys(text: str) -> list[str]:
    from ..arguments import listed_names

    return listed_names(text, [e.KEY for e in EXPERIMENTS], what="claim")


def run(args: argparse.Namespace) -> int:
    from ..arguments import LabError
    from ..compare import apply_threads

    if args.quick and args.scale not in (None, "quick"):
        raise LabError(f"--quick and --scale {args.scale} contradict each other: give one")
    scale = SCALES[args.scale or ("quick" if args.quick else "full")]
    apply_threads(args)
    folder = args.out or Path("reports") / f"claims-{scale.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, _ = run_claims(scale, folder, args.overwrite, args.only)
    print(f"Report: {path.resolve()}")
    return 0
