"""Running trials in worker processes: ``lrsearch run --workers N`` and ``lrsearch worker``.

A supervisor (this process) starts one worker process per planned slot (see :mod:`lrsearch.runner._devices`),
each a long-lived ``spawn``-ed interpreter that runs trials one after another; the supervisor replaces workers
that die, fails and retries the trials they were running, and enforces ``budget.trial_timeout``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from lrsearch.errors import LrsearchError
from lrsearch.runner._devices import WorkerSlot, machine_devices, plan_workers
from lrsearch.runner._run import Progress, RunSummary, reap_stale
from lrsearch.runner._study import StudyHandle, default_log_dir, load_stored_spec, open_stored_study
from lrsearch.runner._supervisor import Supervisor
from lrsearch.runner._trial import Outcome
from lrsearch.storage import Store, check_storage, redact

__all__ = ["plan", "run_workers", "serve"]


def plan(*, workers: int = 1, devices: str | None = None, trials_per_device: int = 1,
         spec_threads: int | None = None) -> list[WorkerSlot]:
    """The worker processes this machine would start for these options."""
    cpus, gpus = machine_devices() if devices else (_cpus(), 0)
    return plan_workers(workers=workers, devices=devices, trials_per_device=trials_per_device, cpu_count=cpus,
                        cuda_count=gpus, spec_threads=spec_threads,
                        cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"))


def run_workers(handle: StudyHandle, *, workers: int = 1, devices: str | None = None, trials_per_device: int = 1,
                trials: int | None = None, timeout: float | None = None, progress: TextIO | None = sys.stderr,
                log_dir: Path | None = None) -> RunSummary:
    """Run ``handle``'s study in worker processes until its total budget (or this run's timeout) is reached."""
    import time

    spec = handle.spec
    total = trials if trials is not None else spec.budget.trials
    timeout = timeout if timeout is not None else spec.budget.timeout
    slots = plan(workers=workers, devices=devices, trials_per_device=trials_per_device, spec_threads=spec.task.threads)
    started = time.monotonic()
    reap_stale(handle)  # trials a dead worker left RUNNING, found by their silent heartbeat
    bar = Progress(handle, total, timeout, progress)
    bar.update(force=True)

    def note(text: str) -> None:
        if progress is not None:
            progress.write(("\n" if bar.tty else "") + f"[{handle.name}] {text}\n")
            progress.flush()

    supervisor = Supervisor(
        url=handle.url, slots=slots, log_dir=str(log_dir or default_log_dir(handle.url)), studies=[handle.name],
        totals={handle.name: total}, timeout=timeout, max_failures=max(10, total or 10),
        trial_timeouts=lambda study: spec.budget.trial_timeout,
        on_outcome=lambda study, outcome: bar.update(outcome), on_note=note,
    )
    try:
        outcomes = supervisor.run()
    finally:
        bar.update(force=True)
        bar.close()
    return RunSummary(study=handle.name, storage=handle.url, outcomes=[o for _, o in outcomes],
                      stopped_by=supervisor.stopped_by, seconds=time.monotonic() - started)


def serve(url: str, *, studies: list[str] | None = None, workers: int = 1, devices: str | None = None,
          trials_per_device: int = 1, timeout: float | None = None, poll: float | None = None,
          log_dir: Path | None = None, out: TextIO | None = sys.stderr) -> dict[str, RunSummary]:
    """``lrsearch worker``: join the studies in ``url`` (all of them with budget left when ``studies`` is None)
    and run their trials here until none has budget left (with ``poll``: keep looking every ``poll`` seconds)."""
    import time

    check_storage(url, create=False, write=True)
    store = Store(url)
    known = store.study_names()
    for name in studies or []:
        if name not in known:
            load_stored_spec(url, name)  # raises, listing the studies that are there
    if not known and not poll:
        raise LrsearchError(f"no lrsearch studies in {redact(url)}; create one with "
                            "`lrsearch run STUDY.yaml --storage URL` (add --workers 0 to leave its trials to workers)")
    slots = plan(workers=workers, devices=devices, trials_per_device=trials_per_device)
    left = []
    for name in studies or known:
        handle = open_stored_study(url, name)
        from lrsearch.tasks import check_spec_modules

        check_spec_modules(handle.spec)  # before any trial of it is touched
        reap_stale(handle)  # trials whose worker died, found by their silent heartbeat
        if _has_budget(handle):
            left.append(name)
    if not left and not poll:
        return {}  # nothing to do: no worker process to start
    log_dir = log_dir or default_log_dir(url)
    say = _printer(out)
    which = ", ".join(studies) if studies else "every study with budget left"
    say(f"lrsearch worker: {len(slots)} worker process(es) on {redact(url)}; studies: {which}; trial logs in {log_dir}")
    for slot in slots:
        say(f"  {slot.describe()}")
    timeouts: dict[str, float | None] = {}

    def trial_timeout(study: str) -> float | None:
        if study not in timeouts:
            timeouts[study] = load_stored_spec(url, study).budget.trial_timeout
        return timeouts[study]

    started = time.monotonic()
    supervisor = Supervisor(
        url=url, slots=slots, log_dir=str(log_dir), studies=studies, poll=poll, timeout=timeout,
        max_failures_in_a_row=max(10, 2 * len(slots)), trial_timeouts=trial_timeout,
        on_outcome=lambda study, outcome: say(describe_outcome(study, outcome)), on_note=say,
    )
    outcomes = supervisor.run()
    summaries: dict[str, RunSummary] = {}
    for study, outcome in outcomes:
        summaries.setdefault(study, RunSummary(study=study, storage=url, stopped_by=supervisor.stopped_by))
        summaries[study].outcomes.append(outcome)
    for summary in summaries.values():
        summary.seconds = time.monotonic() - started
    return summaries


def _has_budget(handle: StudyHandle) -> bool:
    total = handle.spec.budget.trials
    if total is None:
        return True
    counts = handle.counts()
    return counts["COMPLETE"] + counts["PRUNED"] < total


def describe_outcome(study: str, outcome: Outcome) -> str:
    if outcome.state == "FAIL":
        return f"[{study}] trial {outcome.number} failed ({outcome.reason})"
    value = "" if outcome.value is None else f", objective {outcome.value:.4g}"
    return f"[{study}] trial {outcome.number} {outcome.state.lower()} after {outcome.epochs} epoch(s){value}"


def _printer(out: TextIO | None):  # noqa: ANN202
    def say(text: str) -> None:
        if out is not None:
            out.write(text + "\n")
            out.flush()
    return say


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
