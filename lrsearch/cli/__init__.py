"""The ``lrsearch`` command: a thin layer over the library. User errors exit 2 without a traceback.

Each command lives in its own module with ``register(subparsers)``, which adds a parser whose ``func`` takes
the parsed arguments and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

from lrsearch.errors import LrsearchError
from lrsearch.version import __version__

# Order here is the order of ``lrsearch --help``.
COMMANDS = [
    "lrsearch.cli._run",
    "lrsearch.cli._inspect",
    "lrsearch.cli._worker",
    "lrsearch.cli._slurm",
    "lrsearch.cli._results",
    "lrsearch.cli._dashboard",
    "lrsearch.cli._lrfind",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lrsearch",
        description="Hyperparameter search for per-parameter-group optimizer settings and schedules.",
    )
    parser.add_argument("--version", action="version", version=f"lrsearch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a command module not written yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Optuna's experimental-feature warnings are filtered in this process only: a PYTHONWARNINGS naming Optuna's
    # classes would reach every Python process the commands start, which cannot apply it before Optuna loads.
    from optuna.exceptions import ExperimentalWarning

    warnings.filterwarnings("ignore", category=ExperimentalWarning)
    # Warnings meant for the user (e.g. panels not published) read as one line, not a source listing.
    warnings.formatwarning = lambda message, category, *_args, **_kw: f"warning: {message}\n"
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LrsearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `lrsearch schedules | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
