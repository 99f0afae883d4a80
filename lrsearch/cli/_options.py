"""Every option of every ``lrsearch`` command, in one table: one spelling and one meaning per flag.

A command adds an option by its key (``add(parser, "device")``) and may reword the help, or set its default,
``required`` or ``action="append"``, for what the option means there; the flags, destination and type come from
the table. Spellings that older versions used stay accepted as hidden aliases (``--devices``, ``--write``,
``--out``), so scripts keep working while ``--help`` shows one vocabulary. ``tests/cli/test_options.py`` checks
that no command adds an option outside this table.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

from lrsearch.durations import parse_duration


class Duration(argparse.Action):
    """``90``, ``90s``, ``30m``, ``2h``, ``1h30m`` -> seconds; a bad one is a usage error of the command that got it:
    ``lrsearch worker: error: --poll must be a duration like ...``."""

    zero_ok = False

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        text = str(values)
        if self.zero_ok and text.strip() in ("0", "0s"):
            seconds: float | None = 0.0
        else:
            try:
                seconds = parse_duration(text)
            except ValueError as exc:
                parser.error(f"{option_string} {exc}")
        setattr(namespace, self.dest, seconds)


class DurationOrZero(Duration):
    """Like :class:`Duration`, and ``0`` for "never"."""

    zero_ok = True


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


class _Mirror(argparse._StoreAction):
    """Stores the value under the option's destination and under its old one (``args.devices`` beside
    ``args.device``), so code and tests written against the old name keep working."""

    mirror = ""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        setattr(namespace, self.mirror, values)


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    help: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()  # old spellings: accepted, not shown
    old_dest: str | None = None  # the attribute's old name, kept in step with the new one

    @property
    def dest(self) -> str:
        return self.kwargs.get("dest") or self.flags[-1].lstrip("-").replace("-", "_")


def _opt(*flags: str, help: str, aliases: tuple[str, ...] = (), old_dest: str | None = None,  # noqa: A002
         **kwargs: Any) -> Option:
    return Option(flags=flags, help=help, kwargs=kwargs, aliases=aliases, old_dest=old_dest)


OPTIONS: dict[str, Option] = {
    # -- where the study is: every command that reads a study takes a file or these two --------------------
    "storage": _opt("--storage", metavar="URL",
                    help="storage URL of the study (instead of, or overriding, the study file's), e.g. "
                         "sqlite:///lrsearch.db or postgresql+psycopg://user@host/db"),
    "study": _opt("--study", metavar="NAME", help="study name in --storage (optional when it holds one study)"),
    # -- output ------------------------------------------------------------------------------------------------
    "output": _opt("-o", "--output", metavar="FILE", aliases=("--write",), help="the file to write"),
    "quiet": _opt("-q", "--quiet", action="store_true", help="no progress or status lines on stderr"),
    "json": _opt("--json", action="store_true", help="print the result as JSON on stdout, for scripts"),
    # -- where and how trials run ------------------------------------------------------------------------------
    "device": _opt("--device", metavar="DEVICE", aliases=("--devices",), old_dest="devices",
                   help="auto, cpu, cuda or cuda:N (a list cuda:0,cuda:1 where a command runs one worker per "
                        "device)"),
    "workers": _opt("--workers", type=int, metavar="N", help="worker processes"),
    "trials_per_device": _opt("--trials-per-device", type=int, metavar="N",
                              help="concurrent trials per GPU (small models)"),
    "trials": _opt("--trials", type=int, metavar="N", help="total number of finished trials to reach"),
    "timeout": _opt("--timeout", action=Duration, metavar="DURATION",
                    help="stop starting trials after this long, e.g. 600, 30m, 1h30m"),
    "log_dir": _opt("--log-dir", metavar="DIR",
                    help="directory of the per-trial log files (default: lrsearch-logs next to a SQLite file, "
                         "else in the working directory) [$LRSEARCH_LOG_DIR]"),
    "poll": _opt("--poll", action=Duration, metavar="DURATION",
                 help="when no study has budget left, look again every this long (e.g. 30s) instead of exiting"),
    "allow_module": _opt("--allow-module", action="append", metavar="PREFIX",
                         help="import user code (task.entrypoint, task.train) only from modules under PREFIX (repeat "
                              "for several); a study naming another module is refused before anything runs. Whoever "
                              "can write the database chooses the code workers run: see the trust boundary in the "
                              "docs [$LRSEARCH_ALLOWED_MODULES, comma-separated]"),
    "no_confirm": _opt("--no-confirm", action="store_true", help="skip the confirm: step of the spec"),
    "seed": _opt("--seed", type=int, metavar="N", help="random seed"),
    "array": _opt("--array", type=int, metavar="N", help="number of array tasks: worker jobs"),
    "max_running": _opt("--max-running", type=int, metavar="M", help="at most M tasks at once (sbatch --array=0-N%%M)"),
    "dry_run": _opt("--dry-run", action="store_true", help="print what would be done; store and submit nothing"),
    # -- which trial, how to judge it ---------------------------------------------------------------------
    "trial": _opt("--trial", type=int, metavar="N", help="the trial number"),
    "by": _opt("--by", choices=["auto", "search", "confirmed"], default="auto",
               help="auto (default): the best confirmed mean if confirmation runs exist, else the search score"),
    "top": _opt("--top", type=positive_int, metavar="K", help="configs to confirm"),
    "seeds": _opt("--seeds", type=positive_int, metavar="S", help="seeds per config"),
    "tolerance": _opt("--tolerance", type=float, metavar="T",
                      help="largest accepted |recorded - replayed| per epoch (default 1e-6)"),
    "budget": _opt("--budget", type=int, metavar="EPOCHS",
                   help="also compare the best value each study reached within this many epochs consumed"),
    "model": _opt("--model", action="store_true",
                  help="also build the task's model on CPU and check that the groups cover it"),
    "python": _opt("--python", metavar="FILE", help="write the plain-PyTorch snippet (.py) here"),
    "keras": _opt("--keras", metavar="FILE",
                  help="write the trial's optimizer as plain Keras code here (for model.fit on any backend)"),
    "curves": _opt("--curves", metavar="FILE",
                   help="also write the per-epoch, per-group curves (long format) to this .csv or .parquet"),
    # -- dashboard and report --------------------------------------------------------------------------------
    "host": _opt("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)"),
    "port": _opt("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)"),
    "read_only": _opt("--read-only", action="store_true",
                      help="connections that cannot write: dashboard edits (notes, deleting studies) fail, no "
                           "panels are published"),
    "publish_every": _opt("--publish-every", action=DurationOrZero, default=60.0, metavar="DURATION",
                          help="check the studies for changes and republish their panels this often (default 60s; "
                               "e.g. 30, 5m; 0: only at start)"),
    "no_publish": _opt("--no-publish", action="store_true", help="serve only; publish no panels"),
    "publish_only": _opt("--publish-only", action="store_true", help="publish the panels and the note, then exit"),
    "panels": _opt("--panels", metavar="FILE", help="panel definitions (default: the ones lrsearch ships)"),
    "verbose": _opt("--verbose", action="store_true", help="log every HTTP request"),
    # -- lr-find -------------------------------------------------------------------------------------------
    "mode": _opt("--mode", choices=["per-group", "joint"], default="per-group",
                 help="per-group (default): one group moves, the others hold; joint: all move, ratios fixed"),
    "start": _opt("--start", type=float, default=1e-7, metavar="LR", help="first lr of the ramp (default 1e-7)"),
    "end": _opt("--end", type=float, default=10.0, metavar="LR", help="last lr of the ramp (default 10)"),
    "iters": _opt("--iters", type=int, default=100, metavar="N",
                  help="batches per range test (default 100, as fastai)"),
    "at": _opt("--at", action="append", default=[], metavar="NAME=VALUE",
               help="hold a dimension at this value instead of the middle of its range, e.g. --at "
                    "backbone.lr_ratio=0.1 or --at opt.name=adamw (repeatable; names as `lrsearch space`)"),
    "groups": _opt("--groups", metavar="A,B", help="comma-separated groups to test (default: all)"),
    "suggestion": _opt("--suggestion", choices=["valley", "steep", "minimum"], default="valley",
                       help="which suggestion -o narrows around (default valley)"),
    "factor": _opt("--factor", type=float, default=3.0,
                   help="the narrowed range is [s/FACTOR, s*FACTOR] (default 3)"),
    "runs": _opt("--runs", type=int, default=1, metavar="R",
                 help="repeat each test with seeds SEED, SEED+1, ... and suggest from the mean loss (default 1, "
                      "as fastai; 3-5 steady the suggestions on small, noisy batches)"),
    "name": _opt("--name", metavar="NAME", help="study name of the written copy (default: <name>-lrfind)"),
    "results_dir": _opt("--results-dir", metavar="DIR", aliases=("--out",),
                        help="directory for the JSON result and PNG plots (default: lrsearch-lrfind/ next to the "
                             "study's SQLite file)"),
    "no_plot": _opt("--no-plot", action="store_true", help="skip the PNG plots"),
}

_OVERRIDABLE = {"help", "default", "required", "action", "metavar", "choices", "type"}
TAG = "lrsearch_option"  # attribute set on every argparse action made from the table


def add(parser: argparse.ArgumentParser, key: str, **overrides: Any) -> argparse.Action:
    """Add the table's option ``key`` to ``parser``; ``overrides`` reword it for this command."""
    option = OPTIONS[key]
    unknown = set(overrides) - _OVERRIDABLE
    if unknown:
        raise TypeError(f"option {key!r}: only {sorted(_OVERRIDABLE)} may differ between commands, not {unknown}")
    kwargs = {"help": option.help, **option.kwargs, **overrides}
    if option.old_dest and kwargs.get("action") in (None, "store"):
        kwargs["action"] = type("_MirrorTo" + option.old_dest, (_Mirror,), {"mirror": option.old_dest})
        parser.set_defaults(**{option.old_dest: kwargs.get("default")})
    action = parser.add_argument(*option.flags, dest=option.dest, **{k: v for k, v in kwargs.items() if k != "dest"})
    setattr(action, TAG, key)
    if option.aliases:
        hidden = {k: v for k, v in kwargs.items() if k not in ("help", "required", "dest", "default")}
        alias = parser.add_argument(*option.aliases, dest=option.dest, help=argparse.SUPPRESS,
                                    default=argparse.SUPPRESS, **hidden)
        setattr(alias, TAG, key)
    return action


def add_study_source(parser: argparse.ArgumentParser, *, spec_required: bool = False) -> None:
    """``STUDY.yaml`` or ``--storage URL --study NAME``: every command that reads a study takes both.

    ``spec_required``: a command that needs the file itself (it was the only form before); kept for callers
    written against that signature.
    """
    if spec_required:
        parser.add_argument("spec", metavar="STUDY.yaml", help="the study file")
        return
    parser.add_argument("spec", nargs="?", metavar="STUDY.yaml", help="the study file (or give --storage/--study)")
    add(parser, "storage")
    add(parser, "study")
