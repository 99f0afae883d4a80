"""``lrsearch run``: the main job."""

from __future__ import annotations

import argparse
import sys

from lrsearch.cli._common import quiet_optuna


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="create or resume a study and run its trials",
                       description="Create the study (or resume it, continuing to the total budget) and run trials.")
    p.add_argument("spec", metavar="STUDY.yaml")
    p.add_argument("--trials", type=int, help="total number of finished trials to reach (overrides budget.trials)")
    p.add_argument("--timeout", help="stop starting trials after this long, e.g. 600, 10m, 2h (overrides budget.timeout)")
    p.add_argument("--storage", help="storage URL (overrides the spec's storage)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1: trials run in this process)")
    p.add_argument("--devices", help="auto, cpu, or cuda:0,cuda:1,...: one worker per device")
    p.add_argument("--trials-per-device", type=int, default=1, help="concurrent trials per GPU (small models)")
    p.add_argument("--no-confirm", action="store_true", help="skip the confirm: step of the spec")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lrsearch.api import run_study
    from lrsearch.config import parse_duration
    from lrsearch.errors import LrsearchError
    from lrsearch.runner import describe_run

    quiet_optuna()
    if args.trials is not None and args.trials < 1:
        raise LrsearchError(f"--trials must be >= 1, got {args.trials}")
    if args.workers < 1:
        raise LrsearchError(f"--workers must be >= 1, got {args.workers}")
    try:
        timeout = parse_duration(args.timeout) if args.timeout else None
    except ValueError as exc:
        raise LrsearchError(f"--timeout {exc}") from None
    handle, summary = run_study(
        args.spec, trials=args.trials, timeout=timeout, storage=args.storage, workers=args.workers,
        devices=args.devices, trials_per_device=args.trials_per_device,
        progress=None if args.quiet else sys.stderr, confirm=not args.no_confirm,
    )
    print(describe_run(handle, summary))
    return 130 if summary.stopped_by == "interrupted" else 0
