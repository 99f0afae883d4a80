"""What the in-process run loop (:func:`lrsearch.runner.run_here`) and a worker process
(:mod:`lrsearch.runner._child`) both do, done once: take a turn on a study, and judge the failures.

A turn (:func:`take_turn`): ask for a trial under the study's budget lock, with interrupts held; hand the trial to
``announce`` before a stop can act (the in-process loop remembers it, a worker tells its supervisor with
:class:`~lrsearch.runner._messages.TrialStarted`), so that whoever catches the stop fails it and queues its config;
then run it with its heartbeat beating and its output in its log file. When there is no trial to run, the turn says
why (:class:`NoTrial`): ``WAIT`` while others run the last trials of the budget (one of them may die: the turn
reaps trials whose heartbeat stopped), ``DONE`` once the budget is spent.

The stop rules (:class:`StopRules`) are fed every outcome: by the in-process loop, or by the supervisor for all of
its workers.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import optuna

from lrsearch.interrupt import interrupts_held, raise_if_stopped
from lrsearch.runner._heartbeat import Heartbeat
from lrsearch.runner._logs import trial_log_path, trial_output
from lrsearch.runner._lost import fail_lost_trial
from lrsearch.runner._repeats import RepeatedFailure
from lrsearch.runner._study import StudyHandle
from lrsearch.runner._trial import Outcome, run_trial
from lrsearch.search import queue_stage2_recipes
from lrsearch.storage import retrying
from lrsearch.storage.optuna_adapter import stale_trial_ids, storage_of, trial_id


class NoTrial(enum.Enum):
    """Why :func:`next_trial` gave no trial."""

    WAIT = "wait"  # the budget is taken by running trials: look again soon
    DONE = "done"  # enough trials finished


@dataclass(frozen=True)
class Asked:
    """A trial this process holds (RUNNING in the database), and its log file."""

    study: str
    trial: optuna.Trial
    log_path: Path


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


def next_trial(handle: StudyHandle, total: int | None) -> optuna.Trial | NoTrial:
    """A new trial if the budget allows, else why not. Waits out a database outage (up to
    ``LRSEARCH_DB_OUTAGE_LIMIT``)."""
    return retrying(lambda: _next_trial(handle, total), what="asking for a trial", url=handle.url)


def _next_trial(handle: StudyHandle, total: int | None) -> optuna.Trial | NoTrial:
    with warnings.catch_warnings():
        # Optuna warns that its heartbeat is meant for optimize(); lrsearch runs the heartbeat itself.
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        with handle.budget_lock() as conn:
            if total is not None:
                counts = handle.counts(conn)
                finished = counts["COMPLETE"] + counts["PRUNED"]
                if finished >= total:
                    return NoTrial.DONE
                if finished + counts["RUNNING"] >= total:
                    return NoTrial.WAIT
            queue_stage2_recipes(handle)
            return handle.study.ask()


def take_turn(handle: StudyHandle, total: int | None, log_dir: Path, *,
              announce: Callable[[Asked], object] = lambda asked: None, device: str | None = None,
              worker: str | None = None, threads: int | None = None) -> Outcome | NoTrial:
    """Ask for a trial and run it here: the trial's outcome, or why there was none to run.

    ``announce`` gets the trial while interrupts are held. A stop asked for meanwhile raises ``KeyboardInterrupt``
    before the trial starts: the caller fails the trial it was announced and queues it (as for a stop later on;
    :func:`~lrsearch.runner._trial.run_trial` itself does so for a stop while the trial trains).
    """
    with interrupts_held():  # a trial marked RUNNING is known to the caller before a stop can act
        trial = next_trial(handle, total)
        if isinstance(trial, optuna.Trial):
            asked = Asked(handle.name, trial, trial_log_path(log_dir, handle.name, trial.number))
            announce(asked)
    raise_if_stopped()
    if trial is NoTrial.WAIT:
        reap_stale(handle)  # the trials the budget waits for may be those of a dead worker
    if isinstance(trial, NoTrial):
        return trial
    with Heartbeat(trial_id(trial), storage_of(handle.study)), trial_output(asked.log_path):
        return run_trial(handle, trial, device=device, worker=worker, log_path=str(asked.log_path), threads=threads)


@dataclass
class StopRules:
    """When failed trials stop a run, in this process or in workers.

    The same error ``SAME_ERROR_LIMIT`` times in a row (:class:`~lrsearch.runner._repeats.RepeatedFailure`);
    ``max_failures`` failed trials in this run; ``max_in_a_row`` failed one after another (an ``interrupted``
    trial neither counts nor breaks the row: a stop cut it short).
    """

    max_failures: int | None = None
    max_in_a_row: int | None = None
    failed: int = 0
    in_a_row: int = 0
    repeated: RepeatedFailure = field(default_factory=RepeatedFailure)

    def add(self, outcome: Outcome) -> str | None:
        """Count ``outcome``; why the run stops now (``repeated error`` or ``failures``), or None."""
        if outcome.state == "FAIL":
            self.failed += 1
            if outcome.reason != "interrupted":
                self.in_a_row += 1
        else:
            self.in_a_row = 0
        if self.repeated.add(outcome):
            return "repeated error"
        if self.max_failures is not None and self.failed >= self.max_failures:
            return "failures"
        if self.max_in_a_row is not None and self.in_a_row >= self.max_in_a_row:
            return "failures"
        return None

    def note(self, why: str) -> str | None:
        """The line that says why the run stopped, for a stop that needs one (which error repeated)."""
        return self.repeated.describe() if why == "repeated error" else None


def left_running(number: int, why: str) -> str:
    return (f"trial {number} is left RUNNING in the database ({why}); once the database is back, the next "
            "`lrsearch run` or `lrsearch worker` fails it (its heartbeat stopped) and runs its config again")
