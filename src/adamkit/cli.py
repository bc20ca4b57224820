"""The ``adamkit`` command: a thin dispatcher over the lab's subcommand modules.

Each subcommand is a module that exposes two functions::

    def add_arguments(parser: argparse.ArgumentParser) -> None: ...
    def run(args: argparse.Namespace) -> int: ...

and is imported only when it is asked for, so a missing or broken module (or a slow
import) never affects the others. A new subcommand is one row of :data:`COMMANDS`.

Errors in what the user typed give one line on stderr and exit status 2 (argparse's);
problems found while running (a data set that cannot be loaded) one line and status 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__

#: Subcommand -> (module exposing add_arguments/run, one-line description).
COMMANDS: dict[str, tuple[str, str]] = {
    "compare": ("adamkit.lab.compare", "train a model with several optimizers over seeds and write a report"),
    "reproduce": (
        "adamkit.lab.reproduce",
        "rerun an experiment of the reference articles (mlp, cnn-compare, sphere)",
    ),
    "claims": ("adamkit.lab.claims", "test the articles' claims about Adam, one experiment each, one page"),
    "trajectories": ("adamkit.lab.trajectories", "draw optimizers' paths on 2-D test functions"),
    "kernels": ("adamkit.lab.kernels", "compile the fused CPU kernels now, not at first use"),
}


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (``prog: error: ...``), without the usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def one_line(text: str) -> str:
    """``text`` with its line breaks and runs of spaces folded into single spaces."""
    return " ".join(str(text).split())


def top_parser() -> OneLineParser:
    listing = "\n".join(f"  {name:<14}{about}" for name, (_, about) in COMMANDS.items())
    parser = OneLineParser(
        prog="adamkit",
        description="Adam and its family: compare optimizers on real data and watch them move.",
        epilog=f"commands:\n{listing}\n\n'adamkit COMMAND --help' shows a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"adamkit {__version__}")
    parser.add_argument(
        "command", choices=list(COMMANDS), metavar="COMMAND", help="one of: " + ", ".join(COMMANDS)
    )
    return parser


def is_user_error(error: BaseException) -> bool:
    """Errors that mean "what you asked for cannot be done", told in one line rather than a traceback."""
    from .lab.arguments import LabError

    try:
        from .data import DataError
    except ImportError:  # the data package is optional for some commands
        DataError = LabError  # noqa: N806
    return isinstance(error, LabError | DataError)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``adamkit`` with ``argv`` (default: the command line); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    top = top_parser()
    if not argv or argv[0].startswith("-") or argv[0] not in COMMANDS:
        top.parse_args(argv[:1])  # prints help, the version, or a one-line error; exits
        return 2
    command, rest = argv[0], argv[1:]
    module_name, about = COMMANDS[command]
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        print(f"adamkit {command}: error: this command is not available ({one_line(error)})", file=sys.stderr)
        return 1
    parser = OneLineParser(
        prog=f"adamkit {command}",
        description=(module.__doc__ or about).strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print(f"adamkit {command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if not is_user_error(error):
            raise
        print(f"adamkit {command}: error: {one_line(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
