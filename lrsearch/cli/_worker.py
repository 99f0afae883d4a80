"""``lrsearch worker``: join running studies from any machine and run their trials in worker processes.

Every option can come from the environment (for containers): ``LRSEARCH_STORAGE``, ``LRSEARCH_STUDY``
(comma-separated), ``LRSEARCH_WORKERS``, ``LRSEARCH_DEVICES``, ``LRSEARCH_TRIALS_PER_DEVICE``, ``LRSEARCH_LOG_DIR``,
``LRSEARCH_POLL``, ``LRSEARCH_ALLOWED_MODULES``. A flag wins over its variable. Passing the storage URL by variable keeps its password out of
the process list.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lrsearch.cli._common import quiet_optuna
from lrsearch.errors import LrsearchError

ENV = {
    "storage": "LRSEARCH_STORAGE",
    "study": "LRSEARCH_STUDY",
    "workers": "LRSEARCH_WORKERS",
    "devices": "LRSEARCH_DEVICES",
    "trials_per_device": "LRSEARCH_TRIALS_PER_DEVICE",
    "log_dir": "LRSEARCH_LOG_DIR",
    "poll": "LRSEARCH_POLL",
    "allow_module": "LRSEARCH_ALLOWED_MODULES",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "worker", help="join running studies and run their trials here (any machine that reaches the database)",
        description="Run trials of studies stored in --storage, in worker processes, until no study has budget "
                    "left. Loads each study's spec from the database: no study file is needed here. Every option "
                    "defaults to its environment variable (LRSEARCH_STORAGE, LRSEARCH_STUDY, ...).",
    )
    p.add_argument("--storage", help="storage URL of the studies, e.g. postgresql+psycopg://user:pw@host/db "
                                     "[$LRSEARCH_STORAGE]")
    p.add_argument("--study", action="append", metavar="NAME",
                   help="a study to work on (repeat for several, served in order); default: every lrsearch study "
                        "in the storage that has budget left [$LRSEARCH_STUDY, comma-separated]")
    p.add_argument("--workers", type=int, help="worker processes (default 1; with --devices, one per device) "
                                               "[$LRSEARCH_WORKERS]")
    p.add_argument("--devices", help="auto, cpu, or cuda:0,cuda:1,...: one worker per device [$LRSEARCH_DEVICES]")
    p.add_argument("--trials-per-device", type=int, help="concurrent trials per GPU (default 1) "
                                                         "[$LRSEARCH_TRIALS_PER_DEVICE]")
    p.add_argument("--log-dir", help="directory of the per-trial log files (default: lrsearch-logs next to a "
                                     "SQLite file, else in the working directory) [$LRSEARCH_LOG_DIR]")
    p.add_argument("--timeout", help="stop starting trials after this long, e.g. 600, 30m, 8h")
    p.add_argument("--poll", help="when no study has budget left, look again every this long (e.g. 30s) instead "
                                  "of exiting: a long-running service [$LRSEARCH_POLL]")
    p.add_argument("--allow-module", action="append", metavar="PREFIX",
                   help="import user code (task.entrypoint, task.train) only from modules under PREFIX (repeat for "
                        "several); a study naming another module is refused before anything runs. Whoever can "
                        "write the database chooses the code workers run: see the trust boundary in the docs "
                        "[$LRSEARCH_ALLOWED_MODULES, comma-separated]")
    p.add_argument("--quiet", action="store_true", help="no line per trial")
    p.set_defaults(func=worker)


def worker(args: argparse.Namespace) -> int:
    from lrsearch.config import resolve_storage
    from lrsearch.runner import describe_run, open_stored_study
    from lrsearch.runner.workers import serve

    quiet_optuna()
    storage = args.storage or os.environ.get(ENV["storage"], "").strip()
    if not storage:
        raise LrsearchError("--storage is required (or set LRSEARCH_STORAGE): the database URL of the studies")
    url = resolve_storage(storage, Path.cwd())
    studies = args.study or [s.strip() for s in os.environ.get(ENV["study"], "").split(",") if s.strip()] or None
    workers = _int_option(args.workers, "--workers", ENV["workers"], 1)
    per_device = _int_option(args.trials_per_device, "--trials-per-device", ENV["trials_per_device"], 1)
    devices = args.devices or os.environ.get(ENV["devices"], "").strip() or None
    log_dir = args.log_dir or os.environ.get(ENV["log_dir"], "").strip() or None
    timeout = _duration(args.timeout, "--timeout", None)
    poll = _duration(args.poll, "--poll", ENV["poll"])
    if args.allow_module:
        os.environ[ENV["allow_module"]] = ",".join(args.allow_module)  # the worker processes inherit it
    if log_dir:
        os.environ[ENV["log_dir"]] = str(Path(log_dir).expanduser().resolve())  # the workers inherit it
    summaries = serve(url, studies=studies, workers=workers, devices=devices, trials_per_device=per_device,
                      timeout=timeout, poll=poll, log_dir=Path(log_dir).expanduser().resolve() if log_dir else None,
                      out=None if args.quiet else sys.stderr)
    interrupted = False
    for name, summary in summaries.items():
        print(describe_run(open_stored_study(url, name), summary))
        interrupted |= summary.stopped_by == "interrupted"
    if not summaries:
        print("no trial to run: every study has reached its budget")
    return 130 if interrupted else 0


def _int_option(value: int | None, flag: str, env: str, default: int) -> int:
    if value is not None:
        if value < 1:
            raise LrsearchError(f"{flag} must be >= 1, got {value}")
        return value
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    try:
        number = int(raw)
    except ValueError:
        number = 0
    if number < 1:
        raise LrsearchError(f"{env} must be a whole number >= 1 (like {flag}), got {raw!r}")
    return number


def _duration(value: str | None, flag: str, env: str | None) -> float | None:
    from lrsearch.config import parse_duration

    source = flag
    if value is None and env is not None and os.environ.get(env, "").strip():
        value, source = os.environ[env].strip(), env
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise LrsearchError(f"{source} {exc}") from None
