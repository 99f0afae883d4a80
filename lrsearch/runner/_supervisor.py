"""The supervisor: the ``lrsearch run --workers``/``lrsearch worker`` process that owns the worker processes.

Each worker tells it over a pipe which trial it started and how the trial ended (the protocol:
:mod:`lrsearch.runner._messages`); the supervisor counts the outcomes against the stop rules of
:class:`lrsearch.runner._loop.StopRules`, as ``lrsearch run`` does without workers. When a worker dies (a segfault,
the OOM killer, ``kill -9``) the supervisor fails the trial it was running (reason ``killed``, with the signal),
queues that config to run again (at most ``MAX_RETRIES`` times) and starts a replacement. A trial that runs
past ``budget.trial_timeout`` (plus a grace period for the worker's own check) is killed with its worker and
failed as ``timeout``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any

from lrsearch.errors import DiskFull, LrsearchError
from lrsearch.interrupt import raise_if_stopped, request_stop, sticky_ctrl_c
from lrsearch.runner._child import ChildConfig
from lrsearch.runner._devices import WorkerSlot
from lrsearch.runner._logs import log_tail
from lrsearch.runner._loop import StopRules, left_running
from lrsearch.runner._lost import fail_lost_trial
from lrsearch.runner._messages import (
    DatabaseLost,
    DiskFilled,
    ExitReason,
    ProtocolError,
    TrialFinished,
    TrialStarted,
    WorkerExiting,
    WorkerFailed,
    WorkerMessage,
)
from lrsearch.runner._process import (
    RunningTrial,
    WorkerProcess,
    describe_exit,
    main_thread,
    set_env,
    start_worker,
)
from lrsearch.runner._trial import Outcome
from lrsearch.storage import DatabaseUnavailable, release_reserve, retrying

# A worker that dies this many times in a row without finishing a trial is not replaced again.
MAX_CRASHES = 3
SHUTDOWN_WAIT_S = 30.0
# A worker that exits for one of these is not replaced: it had nothing left to do, or the whole run stops.
_NOT_REPLACED = (ExitReason.DONE, ExitReason.STOPPED, ExitReason.INTERRUPTED, ExitReason.ERROR,
                 ExitReason.UNAVAILABLE, ExitReason.DISK_FULL)


def hard_limit(trial_timeout: float | None) -> float | None:
    """When the supervisor kills a trial: its timeout plus a grace period for the worker's own check to act."""
    if not trial_timeout:
        return None
    return trial_timeout + min(60.0, max(2.0, 0.25 * trial_timeout))


@dataclass
class Supervisor:
    """Runs ``slots`` worker processes until their studies' budgets are spent (or a stop)."""

    url: str
    slots: list[WorkerSlot]
    log_dir: str
    studies: list[str] | None = None
    totals: dict[str, int | None] = field(default_factory=dict)
    poll: float | None = None
    timeout: float | None = None
    max_failures: int | None = None  # failed trials in this run before stopping
    max_failures_in_a_row: int | None = None
    trial_timeouts: Callable[[str], float | None] = lambda study: None
    on_outcome: Callable[[str, Outcome], Any] = lambda study, outcome: None
    on_note: Callable[[str], Any] = lambda text: None

    outcomes: list[tuple[str, Outcome]] = field(default_factory=list)
    stopped_by: str = "budget"
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # why the run stopped early, trials left behind

    def run(self) -> list[tuple[str, Outcome]]:
        # PYTHONWARNINGS naming Optuna's warning classes cannot be applied when a new interpreter starts (it
        # prints "Invalid -W option"); the workers filter those warnings themselves.
        warnings_env = os.environ.pop("PYTHONWARNINGS", None)
        try:
            return self._run()
        finally:
            set_env("PYTHONWARNINGS", warnings_env)

    def _run(self) -> list[tuple[str, Outcome]]:
        ctx = mp.get_context("spawn")
        self._ctx = ctx
        self._stop = ctx.Event()
        self._children: list[WorkerProcess] = []
        self._crashes = {slot.index: 0 for slot in self.slots}
        self._rules = StopRules(max_failures=self.max_failures, max_in_a_row=self.max_failures_in_a_row)
        self._deferred: list[tuple[WorkerProcess, int | None]] = []
        started = time.monotonic()
        previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread() else None
        with sticky_ctrl_c():
            try:
                for slot in self.slots:
                    self._start(slot)
                while self._children:
                    raise_if_stopped()
                    if self.timeout is not None and not self._stop.is_set() and time.monotonic() - started >= self.timeout:
                        self._request_stop("timeout")
                    self._step()
            except KeyboardInterrupt:
                self.stopped_by = "interrupted"
                self._shutdown()
            except DatabaseUnavailable as exc:  # the supervisor's own writes (failing a dead worker's trial)
                self._unavailable(f"stopped: {exc}")
                self._shutdown()
            except DiskFull as exc:
                self._disk_full(f"stopped: {exc}")
                self._shutdown()
            except ProtocolError:  # a bug: stop the workers (they fail and queue their trials), then say it
                self.stopped_by = "interrupted"
                with suppress(ProtocolError):  # more of the same while waiting for them
                    self._shutdown()
                raise
            finally:
                if previous is not None:
                    signal.signal(signal.SIGTERM, previous)
        self._settle_deferred()
        if self.errors and not self.outcomes:
            raise LrsearchError(self.errors[0])
        return self.outcomes

    # -- one turn of the loop ------------------------------------------------------------------------------

    def _step(self) -> None:
        waitables: list[Any] = [c.conn for c in self._children if not c.eof]
        waitables += [c.process.sentinel for c in self._children]
        wait(waitables, timeout=0.5)
        for child in list(self._children):
            self._drain(child)
            if not child.process.is_alive():
                self._exited(child)
        now = time.monotonic()
        for child in self._children:
            run = child.running
            if run is not None and run.limit is not None and now - run.started > run.limit and child.killed_for is None:
                child.killed_for = "timeout"
                child.signal(signal.SIGKILL)

    def _drain(self, child: WorkerProcess) -> None:
        for message in child.received():
            self._handle(child, message)

    def _handle(self, child: WorkerProcess, message: WorkerMessage) -> None:
        """Act on one message of the protocol (see :mod:`lrsearch.runner._messages`)."""
        slot = child.slot.index
        match message:
            case TrialStarted(study=study, number=number, trial_id=trial_id, log_path=log_path, worker=worker):
                child.running = RunningTrial(study, number, trial_id, log_path, worker, time.monotonic(),
                                             hard_limit(self.trial_timeouts(study)))
            case TrialFinished(study=study, outcome=outcome):
                child.running = None
                self._crashes[slot] = 0
                self._record(study, outcome)
            case WorkerExiting(reason=reason):
                child.exit_reason = reason
            case WorkerFailed(message=text):
                self.errors.append(text)
                self.on_note(f"worker {slot} stopped: {text}")
            case DatabaseLost(message=text):
                child.exit_reason = ExitReason.UNAVAILABLE
                self._unavailable(f"stopped: worker {slot}: {text}")
            case DiskFilled(message=text):
                child.exit_reason = ExitReason.DISK_FULL
                self._disk_full(f"stopped: worker {slot}: {text}")
            case _:
                raise ProtocolError(f"internal error: the supervisor has no handler for {message!r} from worker "
                                    f"{slot}; this is a bug in lrsearch")

    def _disk_full(self, note: str) -> None:
        """No room left: kill every worker now. A worker left to stop its trial itself would write with the disk
        full (and half succeed), or take the room the reserve frees; so the supervisor alone writes, once all have
        exited: it frees the reserve and fails and queues their trials (:meth:`_settle_deferred`)."""
        if self.stopped_by != "disk full":
            self.stopped_by = "disk full"
            self.notes.append(note)
            self.on_note(note)
        self._stop.set()
        for other in self._children:
            other.signal(signal.SIGKILL)

    def _settle_deferred(self) -> None:
        """After a full disk: with every worker gone, free the reserve and record the trials they were running."""
        if not self._deferred:
            return
        release_reserve(self.url)
        deferred, self._deferred = self._deferred, []
        for child, code in deferred:
            self._lost(child, code)

    def _unavailable(self, note: str) -> None:
        """The database is gone for longer than the limit: stop every worker (they would wait in vain)."""
        if self.stopped_by != "database":
            self.stopped_by = "database"
            self.notes.append(note)
            self.on_note(note)
        self._stop.set()

    def _record(self, study: str, outcome: Outcome) -> None:
        self.outcomes.append((study, outcome))
        self.on_outcome(study, outcome)
        why = self._rules.add(outcome)
        if why is not None and not self._stop.is_set():
            self._request_stop(why)
            note = self._rules.note(why)
            if note is not None:
                self.notes.append(note)
                self.on_note(note)

    def _exited(self, child: WorkerProcess) -> None:
        child.process.join()
        self._drain(child)
        self._children.remove(child)
        code = child.process.exitcode
        if child.running is not None:
            if self.stopped_by == "disk full":
                self._deferred.append((child, code))  # recorded once every worker is gone
            else:
                self._lost(child, code)
        if child.exit_reason in _NOT_REPLACED or self._stop.is_set():
            return
        if child.exit_reason is not ExitReason.RECYCLE and child.killed_for is None:
            self._crashes[child.slot.index] += 1
            if self._crashes[child.slot.index] >= MAX_CRASHES:
                self.on_note(f"worker {child.slot.index} died {MAX_CRASHES} times in a row without finishing a "
                             f"trial (last exit: {describe_exit(code)}); not starting it again")
                return
            self.on_note(f"worker {child.slot.index} died ({describe_exit(code)}); starting a new one")
        self._start(child.slot)

    def _lost(self, child: WorkerProcess, code: int | None) -> None:
        run = child.running
        assert run is not None
        child.running = None
        limit = 0.0 if self.stopped_by == "database" else None
        if child.killed_for == "timeout":
            reason = "timeout"
            message = (f"the trial ran past budget.trial_timeout ({self.trial_timeouts(run.study):g} s) and did not "
                       f"stop; the supervisor killed its worker after {time.monotonic() - run.started:.1f} s")
        elif child.exit_reason is ExitReason.UNAVAILABLE or self.stopped_by == "database":
            reason, limit = "database", 0.0  # one try: the worker has already waited out the limit
            message = "the database was unreachable for longer than LRSEARCH_DB_OUTAGE_LIMIT; the worker stopped"
        elif self.stopped_by == "disk full":
            reason, limit = "disk_full", 0.0
            message = "the disk was full; the run stopped"
        else:
            reason = "killed" if not self._stop.is_set() else "interrupted"
            message = f"the worker process running the trial {describe_exit(code)}"
        tail = log_tail(run.log_path)
        if tail:
            message += f"\nlast lines of {run.log_path}:\n{tail}"
        try:
            number = retrying(lambda: fail_lost_trial(self.url, run.study, run.trial_id, reason=reason,
                                                      message=message, log_path=run.log_path, worker=run.worker),
                              what=f"failing trial {run.number} of a dead worker", url=self.url, limit=limit,
                              say=self.on_note)
        except (DatabaseUnavailable, DiskFull) as exc:
            note = left_running(run.number, str(exc) if limit != 0.0 else "the database is unreachable")
            self.notes.append(note)
            self.on_note(note)
            return
        if number is not None:
            self._record(run.study, Outcome(number, "FAIL", None, reason, log_path=run.log_path))

    # -- starting and stopping workers ---------------------------------------------------------------------

    def _start(self, slot: WorkerSlot) -> None:
        config = ChildConfig(url=self.url, slot=slot, log_dir=self.log_dir, studies=self.studies,
                             totals=dict(self.totals), poll=self.poll, parent_pid=os.getpid())
        self._children.append(start_worker(self._ctx, config, self._stop))

    def _request_stop(self, why: str) -> None:
        if not self._stop.is_set():
            self.stopped_by = why
            self._stop.set()

    def _shutdown(self) -> None:
        """Ctrl-C or SIGTERM: interrupt the running trials (failed as ``interrupted``, queued again), then wait."""
        self._stop.set()
        for child in self._children:
            child.signal(signal.SIGTERM)
        deadline = time.monotonic() + SHUTDOWN_WAIT_S
        try:
            while self._children and time.monotonic() < deadline:
                self._step()
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: stop waiting
        for child in list(self._children):
            child.signal(signal.SIGKILL)
            self._exited(child)


def _interrupt(signum: int, frame: Any) -> None:
    request_stop()  # seen by the loop if this KeyboardInterrupt is dropped (see lrsearch.interrupt)
    raise KeyboardInterrupt
