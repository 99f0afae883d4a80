"""The run loop: ask for trials while budget is left, run them here, show progress, summarise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from lrsearch.errors import DiskFull
from lrsearch.interrupt import raise_if_stopped, sticky_ctrl_c
from lrsearch.runner._loop import Asked, NoTrial, StopRules, left_running, reap_stale, take_turn
from lrsearch.runner._lost import settle_cut_short
from lrsearch.runner._progress import Progress
from lrsearch.runner._study import StudyHandle, default_log_dir
from lrsearch.runner._trial import Outcome
from lrsearch.storage import DatabaseUnavailable, is_disk_full, release_reserve
from lrsearch.storage.optuna_adapter import trial_id

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
    rules = StopRules(max_failures=max(10, total or 10))
    current: Asked | None = None  # asked for and not yet finished: failed and queued if cut short

    def hold(asked: Asked) -> None:
        nonlocal current
        current = asked

    try:
        with sticky_ctrl_c():
            while True:
                raise_if_stopped()
                if timeout is not None and time.monotonic() - started >= timeout:
                    summary.stopped_by = "timeout"
                    break
                turn = take_turn(handle, total, log_dir, announce=hold, device=device)
                if turn is NoTrial.DONE:
                    break
                if turn is NoTrial.WAIT:
                    time.sleep(_WAIT_S)
                    continue
                assert isinstance(turn, Outcome)
                current = None
                summary.outcomes.append(turn)
                if on_outcome is not None:
                    on_outcome(turn)
                bar.update(turn)
                why = rules.add(turn)
                if why is not None:
                    summary.stopped_by = why
                    note = rules.note(why)
                    if note is not None:
                        summary.notes.append(note)
                    break
    except KeyboardInterrupt:
        summary.stopped_by = "interrupted"
        if current is not None:
            _cut_short(handle, current, summary, "interrupted", "stopped by Ctrl-C or SIGTERM", limit=30)
            _show_cut_short(bar, summary, current.trial.number)
    except DatabaseUnavailable as exc:
        summary.stopped_by = "database"
        summary.notes.append(f"stopped: {exc}")
        if current is not None:
            _cut_short(handle, current, summary, "database", str(exc), limit=0)
            _show_cut_short(bar, summary, current.trial.number)
    except (DiskFull, OSError) as exc:
        if not (isinstance(exc, DiskFull) or is_disk_full(exc)):
            raise
        summary.stopped_by = "disk full"
        summary.notes.append(f"stopped: {exc}" if isinstance(exc, DiskFull) else f"stopped: the disk is full: {exc}")
        release_reserve(handle.url)  # the room to record the stop
        if current is not None:
            _cut_short(handle, current, summary, "disk_full", str(exc), limit=0)
            _show_cut_short(bar, summary, current.trial.number)
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


def _cut_short(handle: StudyHandle, asked: Asked, summary: RunSummary, reason: str, message: str, *,
               limit: float) -> None:
    """Fail the trial a stop or an outage cut short and queue its config (or say why it stays RUNNING)."""
    number = asked.trial.number
    try:
        _, why = settle_cut_short(handle.url, handle.name, trial_id(asked.trial), reason=reason, message=message,
                                  log_path=str(asked.log_path), limit=limit)
    except DiskFull:
        why = "the disk is still full"
    if why is not None and reason in _SHORT_WHY:
        why = _SHORT_WHY[reason]  # the stop itself was already said
    if why is None and not any(o.number == number for o in summary.outcomes):
        summary.outcomes.append(Outcome(number, "FAIL", None, reason))  # failed here, or by run_trial
    if why is not None:
        summary.notes.append(left_running(number, why))
