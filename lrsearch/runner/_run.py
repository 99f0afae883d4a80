"""The run loop: ask for trials while budget is left, run them here, show progress, summarise."""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import optuna

from lrsearch.errors import DiskFull
from lrsearch.interrupt import interrupts_held, raise_if_stopped, sticky_ctrl_c
from lrsearch.runner._heartbeat import Heartbeat
from lrsearch.runner._logs import trial_log_path, trial_output
from lrsearch.runner._lost import fail_lost_trial, settle_cut_short
from lrsearch.runner._progress import Progress
from lrsearch.runner._repeats import RepeatedFailure
from lrsearch.runner._study import StudyHandle, default_log_dir
from lrsearch.runner._trial import Outcome, run_trial
from lrsearch.search import queue_stage2_recipes
from lrsearch.storage import DatabaseUnavailable, is_disk_full, release_reserve, retrying
from lrsearch.storage.optuna_adapter import stale_trial_ids, storage_of, trial_id

_WAIT_S = 2.0


@dataclass
class RunSummary:
    study: str
    storage: str
    outcomes: list[Outcome] = field(default_factory=list)
    stopped_by: str = "budget"  # budget | timeout | failures | repeated error | database | interrupted
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # why it stopped, trials left behind: shown in the summary

    def count(self, state: str) -> int:
        return sum(1 for o in self.outcomes if o.state == state)


def reap_stale(handle: StudyHandle) -> list[int]:
    """Fail trials whose worker stopped sending heartbeats (reason ``killed``) and queue their configs again."""
    return retrying(lambda: _reap_stale(handle), what="looking for trials of dead workers", url=handle.url)


def _reap_stale(handle: StudyHandle) -> list[int]:
    reaped = []
    for stale in stale_trial_ids(handle.study):
        number = fail_lost_trial(handle.url, handle.name, stale, reason="killed",
                                 message="the worker stopped sending heartbeats (killed, or its machine was lost)")
        if number is not None:
            reaped.append(number)
    return sorted(reaped)


def next_trial(handle: StudyHandle, total: int | None) -> optuna.Trial | None | str:
    """A new trial if the budget allows; ``"wait"`` while others are running the last trials; None when done.
    Waits out a database outage (up to ``LRSEARCH_DB_OUTAGE_LIMIT``)."""
    return retrying(lambda: _next_trial(handle, total), what="asking for a trial", url=handle.url)


def _next_trial(handle: StudyHandle, total: int | None) -> optuna.Trial | None | str:
    with warnings.catch_warnings():
        # Optuna warns that its heartbeat is meant for optimize(); lrsearch runs the heartbeat itself.
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        with handle.budget_lock() as conn:
            if total is not None:
                counts = handle.counts(conn)
                finished = counts["COMPLETE"] + counts["PRUNED"]
                if finished >= total:
                    return None
                if finished + counts["RUNNING"] >= total:
                    return "wait"
            queue_stage2_recipes(handle)
            return handle.study.ask()


def run_here(handle: StudyHandle, *, trials: int | None = None, timeout: float | None = None,
             progress: TextIO | None = sys.stderr, device: str | None = None,
             on_outcome: Callable[[Outcome], Any] | None = None, log_dir: Path | None = None) -> RunSummary:
    """Run trials in this process until the study's total budget (or this run's timeout) is reached.

    Each trial's stdout/stderr goes to its log file under ``log_dir`` (default: :func:`default_log_dir`).
    """
    spec = handle.spec
    total = trials if trials is not None else spec.budget.trials
    timeout = timeout if timeout is not None else spec.budget.timeout
    log_dir = log_dir or default_log_dir(handle.url)
    summary = RunSummary(study=handle.name, storage=handle.url)
    started = time.monotonic()
    reap_stale(handle)
    bar = Progress(handle, total, timeout, progress, log_dir=log_dir)
    bar.update(force=True)
    max_failures = max(10, total or 10)
    repeated = RepeatedFailure()
    current: optuna.Trial | None = None  # asked for and not yet finished: failed and queued if cut short
    log_path: Path | None = None
    try:
        with sticky_ctrl_c():
            while True:
                raise_if_stopped()
                if timeout is not None and time.monotonic() - started >= timeout:
                    summary.stopped_by = "timeout"
                    break
                if summary.count("FAIL") >= max_failures:
                    summary.stopped_by = "failures"
                    break
                with interrupts_held():  # a trial marked RUNNING is known here before a stop can act
                    trial = next_trial(handle, total)
                    current = trial if isinstance(trial, optuna.Trial) else None
                raise_if_stopped()
                if trial is None:
                    break
                if trial == "wait":
                    reap_stale(handle)
                    time.sleep(_WAIT_S)
                    continue
                assert isinstance(trial, optuna.Trial)
                log_path = trial_log_path(log_dir, handle.name, trial.number)
                with Heartbeat(trial_id(trial), storage_of(handle.study)), trial_output(log_path):
                    outcome = run_trial(handle, trial, device=device, log_path=str(log_path))
                current = None
                summary.outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
                bar.update(outcome)
                if repeated.add(outcome):
                    summary.stopped_by = "repeated error"
                    summary.notes.append(repeated.describe())
                    break
    except KeyboardInterrupt:
        summary.stopped_by = "interrupted"
        if current is not None:
            _cut_short(handle, current, summary, "interrupted", "stopped by Ctrl-C or SIGTERM", log_path, limit=30)
            _show_cut_short(bar, summary, current.number)
    except DatabaseUnavailable as exc:
        summary.stopped_by = "database"
        summary.notes.append(f"stopped: {exc}")
        if current is not None:
            _cut_short(handle, current, summary, "database", str(exc), log_path, limit=0)
            _show_cut_short(bar, summary, current.number)
    except (DiskFull, OSError) as exc:
        if not (isinstance(exc, DiskFull) or is_disk_full(exc)):
            raise
        summary.stopped_by = "disk full"
        summary.notes.append(f"stopped: {exc}" if isinstance(exc, DiskFull) else f"stopped: the disk is full: {exc}")
        release_reserve(handle.url)  # the room to record the stop
        if current is not None:
            _cut_short(handle, current, summary, "disk_full", str(exc), log_path, limit=0)
            _show_cut_short(bar, summary, current.number)
    finally:
        for note in summary.notes:
            bar.note(note)
        bar.update(final=True)
        bar.close()
        summary.seconds = time.monotonic() - started
    return summary


def _show_cut_short(bar: Progress, summary: RunSummary, number: int) -> None:
    """The failure line of the trial a stop cut short, like any failed trial's (the bar counts it)."""
    cut = next((o for o in summary.outcomes if o.number == number and o.state == "FAIL"), None)
    if cut is not None:
        bar.update(cut)


_SHORT_WHY = {"database": "the database is unreachable", "disk_full": "the disk is still full"}


def _cut_short(handle: StudyHandle, trial: optuna.Trial, summary: RunSummary, reason: str, message: str,
               log_path: Path | None, *, limit: float) -> None:
    """Fail the trial a stop or an outage cut short and queue its config (or say why it stays RUNNING)."""
    try:
        _, why = settle_cut_short(handle.url, handle.name, trial_id(trial), reason=reason, message=message,
                                  log_path=str(log_path) if log_path else None, limit=limit)
    except DiskFull:
        why = "the disk is still full"
    if why is not None and reason in _SHORT_WHY:
        why = _SHORT_WHY[reason]  # the stop itself was already said
    if why is None and not any(o.number == trial.number for o in summary.outcomes):
        summary.outcomes.append(Outcome(trial.number, "FAIL", None, reason))  # failed here, or by run_trial
    if why is not None:
        summary.notes.append(left_running(trial.number, why))


def left_running(number: int, why: str) -> str:
    return (f"trial {number} is left RUNNING in the database ({why}); once the database is back, the next "
            "`lrsearch run` or `lrsearch worker` fails it (its heartbeat stopped) and runs its config again")
