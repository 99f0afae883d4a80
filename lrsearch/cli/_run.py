"""``lrsearch run``: the main job."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lrsearch.cli._common import env_storage, quiet_optuna
from lrsearch.cli._options import add


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="create or resume a study and run its trials",
                       description="Create the study (or resume it, continuing to the total budget) and run trials.")
    p.add_argument("spec", metavar="STUDY.yaml", help="the study file")
    add(p, "trials", help="total number of finished trials to reach (overrides budget.trials)")
    add(p, "timeout", help="stop starting trials after this long, e.g. 600, 10m, 1h30m (overrides budget.timeout)")
    add(p, "storage", help="storage URL (overrides $LRSEARCH_STORAGE, which overrides the spec's storage)")
    add(p, "workers", default=1,
        help="local worker processes (default 1: trials run in this process; 0: create or update the study and "
             "leave its trials to `lrsearch worker` processes)")
    add(p, "device", help="auto, cpu, or cuda:0,cuda:1,...: one worker process per device")
    add(p, "trials_per_device", default=1, help="concurrent trials per GPU (default 1; small models)")
    add(p, "log_dir")
    add(p, "no_confirm")
    add(p, "quiet", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lrsearch.api import run_study
    from lrsearch.errors import LrsearchError
    from lrsearch.runner import describe_run, verdict

    quiet_optuna()
    if args.trials is not None and args.trials < 1:
        raise LrsearchError(f"--trials must be >= 1, got {args.trials}")
    if args.workers < 0:
        raise LrsearchError(f"--workers must be >= 0, got {args.workers}")
    if args.trials_per_device < 1:
        raise LrsearchError(f"--trials-per-device must be >= 1, got {args.trials_per_device}")
    timeout = args.timeout
    if args.log_dir:
        os.environ["LRSEARCH_LOG_DIR"] = str(Path(args.log_dir).expanduser().resolve())  # workers inherit it
    storage = env_storage(args.storage)
    if args.workers == 0:
        return create_only(args, storage)
    if args.workers > 1 or args.device:
        from lrsearch.runner.workers import plan

        plan(workers=args.workers, devices=args.device, trials_per_device=args.trials_per_device)  # before writing
    handle, summary = run_study(
        args.spec, trials=args.trials, timeout=timeout, storage=storage, workers=args.workers,
        devices=args.device, trials_per_device=args.trials_per_device,
        progress=None if args.quiet else sys.stderr, confirm=not args.no_confirm,
    )
    if summary.stopped_by == "database":  # nothing more can be read now; the notes say what is left
        print(f"study {handle.name!r}: " + "; ".join(summary.notes))
        return 1
    print(describe_run(handle, summary))
    code, why = verdict(handle, summary)
    if why:
        print(f"error: {why}", file=sys.stderr)
    return code


def create_only(args: argparse.Namespace, storage: str | None) -> int:
    """``--workers 0``: check and store the study (with ``--trials`` as its budget) for workers to run."""
    from lrsearch.api import preflight
    from lrsearch.config import load_spec, resolve_storage
    from lrsearch.runner import open_study
    from lrsearch.storage import redact

    spec = load_spec(args.spec)
    if storage:
        spec.storage = resolve_storage(storage, Path.cwd())
    if args.trials is not None:
        spec.budget.trials = args.trials  # stored with the spec: workers read the budget from there
    preflight(spec, args.spec)
    handle = open_study(spec, spec.storage, create=True, source=args.spec)
    counts = handle.counts()
    print(f"study {spec.name!r} is ready in {redact(handle.url)}: {counts['COMPLETE'] + counts['PRUNED']} of "
          f"{spec.budget.trials or 'unlimited'} trials finished; run `lrsearch worker --storage URL --study "
          f"{spec.name}` where the trials should run")
    return 0
