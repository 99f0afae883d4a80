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

from lrsearch.cli._common import STORAGE_ENV, env_storage, quiet_optuna
from lrsearch.cli._options import add
from lrsearch.errors import LrsearchError

ENV = {
    "storage": STORAGE_ENV,
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
    add(p, "storage", help="storage URL of the studies, e.g. postgresql+psycopg://user:pw@host/db [$LRSEARCH_STORAGE]")
    add(p, "study", action="append",
        help="a study to work on (repeat for several, served in order); default: every lrsearch study in the "
             "storage that has budget left [$LRSEARCH_STUDY, comma-separated]")
    add(p, "workers", help="worker processes (default 1; with --device, one per device) [$LRSEARCH_WORKERS]")
    add(p, "device", help="auto, cpu, or cuda:0,cuda:1,...: one worker per device [$LRSEARCH_DEVICES]")
    add(p, "trials_per_device", help="concurrent trials per GPU (default 1) [$LRSEARCH_TRIALS_PER_DEVICE]")
    add(p, "log_dir")
    add(p, "timeout", help="stop starting trials after this long, e.g. 600, 30m, 1h30m")
    add(p, "poll", help="when no study has budget left, look again every this long (e.g. 30s) instead of exiting: "
                        "a long-running service [$LRSEARCH_POLL]")
    add(p, "allow_module")
    add(p, "quiet", help="no line per trial")
    p.set_defaults(func=worker)


def worker(args: argparse.Namespace) -> int:
    from lrsearch.config import resolve_storage
    from lrsearch.runner import describe_run, open_stored_study, verdict
    from lrsearch.runner.workers import serve

    quiet_optuna()
    storage = env_storage(args.storage)
    if not storage:
        raise LrsearchError("--storage is required (or set LRSEARCH_STORAGE): the database URL of the studies")
    url = resolve_storage(storage, Path.cwd())
    studies = args.study or [s.strip() for s in os.environ.get(ENV["study"], "").split(",") if s.strip()] or None
    workers = _int_option(args.workers, "--workers", ENV["workers"], 1)
    per_device = _int_option(args.trials_per_device, "--trials-per-device", ENV["trials_per_device"], 1)
    devices = args.device or os.environ.get(ENV["devices"], "").strip() or None
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
    code = 0
    for name, summary in summaries.items():
        if summary.stopped_by == "database":  # nothing more can be read now; the notes say what is left
            print(f"study {name!r}: " + "; ".join(summary.notes))
            code = max(code, 1)
            continue
        handle = open_stored_study(url, name)
        print(describe_run(handle, summary))
        study_code, why = verdict(handle, summary)
        if why:
            print(f"error: {why}", file=sys.stderr)
        code = max(code, study_code)
    if not summaries:
        print("no trial to run: every study has reached its budget")
    return code


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


def _duration(value: str | float | None, flag: str, env: str | None) -> float | None:
    from lrsearch.config import parse_duration

    source = flag
    if value is None and env is not None and os.environ.get(env, "").strip():
        value, source = os.environ[env].strip(), env
    if value is None:
        return None
    if isinstance(value, float):  # parsed already by the option's type
        return value
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise LrsearchError(f"{source} {exc}") from None
