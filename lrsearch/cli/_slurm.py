"""``lrsearch slurm``: store a study and submit its workers to SLURM as one array job.

``lrsearch slurm STUDY --array N [options] [sbatch options]``: lrsearch's options may come before or after STUDY;
every option it does not know (``--time``, ``--partition``, ``--gpus-per-task``, ``--requeue`` ...) goes to
``sbatch`` unchanged, as does everything after ``--``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from lrsearch.cli._common import env_storage, quiet_optuna
from lrsearch.cli._options import add
from lrsearch.errors import LrsearchError


def _tasks(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes the number of array tasks (e.g. --array 8, with --max-running M "
                                         f"for at most M at once), not an sbatch range: got {value!r}") from None


def _add_options(p: argparse.ArgumentParser) -> None:
    add(p, "array", type=_tasks, help="number of array tasks: worker jobs (required)")
    add(p, "max_running")
    add(p, "storage", help="storage URL shared by the tasks, e.g. postgresql+psycopg://user:pw@host/db "
                           "[$LRSEARCH_STORAGE]; passed to them in the environment, not in the script")
    add(p, "trials", help="total number of finished trials to reach (stored as the budget)")
    add(p, "device", default="auto", help="each task's --device (default auto: one worker process per GPU SLURM "
                                          "gives the task, else one CPU worker)")
    add(p, "trials_per_device", default=1, help="concurrent trials per GPU (small models)")
    add(p, "log_dir", help="directory of the per-trial log files, on a filesystem the nodes share (default: "
                           "lrsearch-logs in this directory)")
    add(p, "dry_run", help="print the batch script and the sbatch command; store and submit nothing")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "slurm", allow_abbrev=False,
        help="submit a study's workers to SLURM as an array job",
        description="Store the study (like `run --workers 0`) and submit N array tasks that each run `lrsearch "
                    "worker` on it. Options lrsearch does not know go to sbatch (e.g. --time 4:00:00 "
                    "--partition gpu --gpus-per-task 1 --requeue); so does everything after `--`. Task output: "
                    "slurm-%A_%a.out (sbatch's default). scancel, the time limit and requeues interrupt the "
                    "running trials, which are recorded and queued to run again.",
        epilog="example: lrsearch slurm studies/effnet.yaml --array 8 --storage postgresql+psycopg://u:pw@db/lr "
               "--time 8:00:00 --gpus-per-task 1 --requeue",
    )
    p.add_argument("spec", metavar="STUDY", help="a study file (STUDY.yaml), or the name of a study stored in --storage")
    _add_options(p)
    p.add_argument("sbatch_args", nargs=argparse.REMAINDER, metavar="SBATCH_OPTIONS", help=argparse.SUPPRESS)
    p.set_defaults(func=slurm)


def split_arguments(args: argparse.Namespace) -> list[str]:
    """Take lrsearch's own options out of what followed STUDY (into ``args``); the rest is sbatch's."""
    rest = list(args.sbatch_args)
    passthrough: list[str] = []
    if "--" in rest:
        cut = rest.index("--")
        rest, passthrough = rest[:cut], rest[cut + 1:]
    own = argparse.ArgumentParser(prog="lrsearch slurm", add_help=False, allow_abbrev=False)
    _add_options(own)
    defaults = {**own._defaults, **{a.dest: a.default for a in own._actions if a.default is not argparse.SUPPRESS}}
    parsed, unknown = own.parse_known_args(rest)
    for key, value in vars(parsed).items():
        if value != defaults.get(key):
            setattr(args, key, value)
    return unknown + passthrough


def slurm(args: argparse.Namespace) -> int:
    from lrsearch.config import resolve_storage
    from lrsearch.slurm import ArrayJob, find_sbatch, render_script, submit, task_log_pattern
    from lrsearch.storage import parse_url, redact

    quiet_optuna()
    sbatch_args = split_arguments(args)
    if args.array is None:
        raise LrsearchError("--array N is required: the number of array tasks (worker jobs) to submit")
    for flag, value in (("--array", args.array), ("--max-running", args.max_running),
                        ("--trials", args.trials), ("--trials-per-device", args.trials_per_device)):
        if value is not None and value < 1:
            raise LrsearchError(f"{flag} must be >= 1, got {value}")
    if any(a == "--array" or a.startswith(("--array=", "-a")) for a in sbatch_args):
        raise LrsearchError("give the number of tasks as lrsearch's --array N (with --max-running M for %M), "
                            "not as an sbatch --array range")
    is_file = Path(args.spec).is_file() or args.spec.endswith((".yaml", ".yml"))
    storage = env_storage(args.storage)
    if not is_file and not storage:
        raise LrsearchError(f"{args.spec!r} is not a study file; to name a stored study, give --storage URL "
                            "(or set LRSEARCH_STORAGE)")
    if not is_file and args.trials is not None:
        raise LrsearchError("--trials needs a study file: a stored study keeps the budget it was stored with")
    spec = None
    if is_file:
        from lrsearch.config import load_spec

        spec = load_spec(args.spec)
        url = resolve_storage(storage, Path.cwd()) if storage else spec.storage
    else:
        url = resolve_storage(storage, Path.cwd())
    assert url is not None
    if parse_url(url).get_backend_name() == "sqlite":
        raise LrsearchError(f"storage {redact(url)} is a SQLite file: array tasks run on several nodes, and SQLite's "
                            "locks do not hold on a shared filesystem; use a PostgreSQL (or MySQL) server, e.g. "
                            "--storage postgresql+psycopg://user:password@host/db")
    log_dir = str(Path(args.log_dir).expanduser().resolve()) if args.log_dir else str(Path.cwd() / "lrsearch-logs")
    name = spec.name if spec is not None else args.spec
    job = ArrayJob(study=name, tasks=args.array, python=sys.executable, max_running=args.max_running,
                   devices=args.device, trials_per_device=args.trials_per_device, log_dir=log_dir)
    if args.dry_run:
        print(render_script(job), end="")
        print(f"# submit with: LRSEARCH_STORAGE=... sbatch {shlex.join(sbatch_args)} SCRIPT".rstrip())
        return 0
    find_sbatch()  # before anything is stored
    if spec is not None:
        _store(spec, args, url)
    else:
        _check_stored(url, name)
    submitted = submit(job, sbatch_args, storage=url)
    log = task_log_pattern(sbatch_args, Path.cwd()).replace("%A", submitted.job_id).replace("%a", "<task>")
    print(f"submitted array job {submitted.job_id}: {args.array} task(s) of `lrsearch worker --study {name}`")
    print(f"  task output: {log}")
    print(f"  trial logs:  {log_dir}")
    print(f"  watch: squeue -j {submitted.job_id}   stop: scancel {submitted.job_id} (running trials are "
          "interrupted, recorded and queued again)")
    return 0


def _store(spec, args: argparse.Namespace, url: str) -> None:  # noqa: ANN001
    from lrsearch.api import preflight
    from lrsearch.runner import open_study
    from lrsearch.storage import redact

    spec.storage = url
    if args.trials is not None:
        spec.budget.trials = args.trials  # stored with the spec: the workers read the budget from there
    preflight(spec, args.spec)
    handle = open_study(spec, url, create=True, source=args.spec)
    counts = handle.counts()
    print(f"study {spec.name!r} is ready in {redact(url)}: {counts['COMPLETE'] + counts['PRUNED']} of "
          f"{spec.budget.trials or 'unlimited'} trials finished")


def _check_stored(url: str, name: str) -> None:
    from lrsearch.runner import load_stored_spec
    from lrsearch.storage import check_storage

    check_storage(url, create=False)
    load_stored_spec(url, name)  # raises, listing the studies that are there
