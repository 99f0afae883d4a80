"""The ``lrsearch`` command: a thin layer over the library. User errors exit 2 without a traceback.

Each command lives in its own module with ``register(subparsers)``, which adds a parser whose ``func`` takes
the parsed arguments and returns an exit code. Options come from the one table in :mod:`lrsearch.cli._options`.

The parser is argparse on purpose: building it imports nothing heavy (``--help`` answers in a fraction of a
second, before torch or Optuna load), every command module stays a plain ``register`` function that others can
add to without touching the rest, and the completion scripts are generated from the same parser.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from lrsearch.errors import DatabaseUnavailable, LrsearchError
from lrsearch.version import __version__

__all__ = ["build_parser", "cli_reference", "command_parsers", "main"]

# Order here is the order of ``lrsearch --help``.
COMMANDS = [
    "lrsearch.cli._run",
    "lrsearch.cli._inspect",
    "lrsearch.cli._worker",
    "lrsearch.cli._slurm",
    "lrsearch.cli._results",
    "lrsearch.cli._dashboard",
    "lrsearch.cli._lrfind",
    "lrsearch.cli._completion",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lrsearch",
        description="Hyperparameter search for per-parameter-group optimizer settings and schedules.",
        epilog="`lrsearch COMMAND --help` shows a command's options.",
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


def command_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each command's own parser, by name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse, reporting an unknown argument with the usage of the command it was given to, not the top level's."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        command = command_parsers(parser).get(getattr(args, "command", None) or "")
        (command or parser).error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parse(parser, argv)
    except SystemExit as exc:  # --help, --version (0) or a usage error (2, printed with the command's usage)
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    _quiet_warnings()
    try:
        return int(args.func(args) or 0)
    except DatabaseUnavailable as exc:  # not the user's input: the database went away during the command
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except LrsearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `lrsearch schedules | head`
        sys.stderr.close()
        return 0


def _quiet_warnings() -> None:
    """Set once a command is chosen (Optuna loads here, not for ``--help``)."""
    import warnings

    from optuna.exceptions import ExperimentalWarning

    # Optuna's experimental-feature warnings are filtered in this process only: a PYTHONWARNINGS naming Optuna's
    # classes would reach every Python process the commands start, which cannot apply it before Optuna loads.
    warnings.filterwarnings("ignore", category=ExperimentalWarning)
    # Warnings meant for the user (e.g. panels not published) read as one line, not a source listing.
    warnings.formatwarning = lambda message, category, *_args, **_kw: f"warning: {message}\n"


def cli_reference() -> str:
    """The command-line reference page of the documentation site (generated from this parser)."""
    from lrsearch.cli._reference import cli_reference as page

    return page()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
