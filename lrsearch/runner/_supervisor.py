"""The supervisor: the ``lrsearch run --workers``/``lrsearch worker`` process that owns the worker processes.

Each worker tells it over a pipe which trial it started and how the trial ended. When a worker dies (a segfault,
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
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from lrsearch.errors import LrsearchError
from lrsearch.interrupt import raise_if_stopped, request_stop, sticky_ctrl_c
from lrsearch.runner._child import ChildConfig, child_main
from lrsearch.runner._devices import WorkerSlot
from lrsearch.runner._logs import log_tail
from lrsearch.runner._lost import fail_lost_trial
from lrsearch.runner._trial import Outcome

# A worker that dies this many times in a row without finishing a trial is not replaced again.
MAX_CRASHES = 3
SHUTDOWN_WAIT_S = 30.0


def hard_limit(trial_timeout: float | None) -> float | None:
    """When the supervisor kills a trial: its timeout plus a grace period for the worker's own check to act."""
    if not trial_timeout:
        return None
    return trial_timeout + min(60.0, max(2.0, 0.25 * trial_timeout))


@dataclass
class _Running:
    study: str
    number: int
    trial_id: int
    log_path: str
    worker: str
    started: float
    limit: float | None


@dataclass
class _Child:
    slot: WorkerSlot
    process: BaseProcess
    conn: Connection
    running: _Running | None = None
    exit_reason: str | None = None
    killed_for: str | None = None  # "timeout" when the supervisor killed it
    eof: bool = False  # its end of the pipe is closed (it is exiting)


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

    def run(self) -> list[tuple[str, Outcome]]:
        # PYTHONWARNINGS naming Optuna's warning classes cannot be applied when a new interpreter starts (it
        # prints "Invalid -W option"); the workers filter those warnings themselves.
        warnings_env = os.environ.pop("PYTHONWARNINGS", None)
        try:
            return self._run()
        finally:
            _set_env("PYTHONWARNINGS", warnings_env)

    def _run(self) -> list[tuple[str, Outcome]]:
        ctx = mp.get_context("spawn")
        self._ctx = ctx
        self._stop = ctx.Event()
        self._children: list[_Child] = []
        self._crashes = {slot.index: 0 for slot in self.slots}
        self._failed_in_a_row = 0
        started = time.monotonic()
        previous = signal.signal(signal.SIGTERM, _interrupt) if _main_thread() else None
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
            finally:
                if previous is not None:
                    signal.signal(signal.SIGTERM, previous)
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
                with suppress(ProcessLookupError):
                    os.kill(child.process.pid or 0, signal.SIGKILL)

    def _drain(self, child: _Child) -> None:
        while True:
            if child.eof:
                return
            try:
                if not child.conn.poll():
                    return
                message = child.conn.recv()
            except (EOFError, OSError):
                child.eof = True
                return
            self._handle(child, message)

    def _handle(self, child: _Child, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "started":
            _, _, study, number, trial_id, log_path, worker = message
            child.running = _Running(study, number, trial_id, log_path, worker, time.monotonic(),
                                     hard_limit(self.trial_timeouts(study)))
        elif kind == "finished":
            _, _, study, outcome = message
            child.running = None
            self._crashes[child.slot.index] = 0
            self._record(study, outcome)
        elif kind == "exit":
            child.exit_reason = message[2]
        elif kind == "error":
            self.errors.append(message[2])
            self.on_note(f"worker {child.slot.index} stopped: {message[2]}")

    def _record(self, study: str, outcome: Outcome) -> None:
        self.outcomes.append((study, outcome))
        self.on_outcome(study, outcome)
        if outcome.state == "FAIL" and outcome.reason != "interrupted":
            self._failed_in_a_row += 1
        elif outcome.state != "FAIL":
            self._failed_in_a_row = 0
        failed = sum(1 for _, o in self.outcomes if o.state == "FAIL")
        if self.max_failures is not None and failed >= self.max_failures:
            self._request_stop("failures")
        if self.max_failures_in_a_row is not None and self._failed_in_a_row >= self.max_failures_in_a_row:
            self._request_stop("failures")

    def _exited(self, child: _Child) -> None:
        child.process.join()
        self._drain(child)
        self._children.remove(child)
        code = child.process.exitcode
        if child.running is not None:
            self._lost(child, code)
        if child.exit_reason in ("done", "stopped", "interrupted", "error") or self._stop.is_set():
            return
        if child.exit_reason != "recycle" and child.killed_for is None:
            self._crashes[child.slot.index] += 1
            if self._crashes[child.slot.index] >= MAX_CRASHES:
                self.on_note(f"worker {child.slot.index} died {MAX_CRASHES} times in a row without finishing a "
                             f"trial (last exit: {_describe_exit(code)}); not starting it again")
                return
            self.on_note(f"worker {child.slot.index} died ({_describe_exit(code)}); starting a new one")
        self._start(child.slot)

    def _lost(self, child: _Child, code: int | None) -> None:
        run = child.running
        assert run is not None
        child.running = None
        if child.killed_for == "timeout":
            reason = "timeout"
            message = (f"the trial ran past budget.trial_timeout ({self.trial_timeouts(run.study):g} s) and did not "
                       f"stop; the supervisor killed its worker after {time.monotonic() - run.started:.1f} s")
        else:
            reason = "killed" if not self._stop.is_set() else "interrupted"
            message = f"the worker process running the trial {_describe_exit(code)}"
        tail = log_tail(run.log_path)
        if tail:
            message += f"\nlast lines of {run.log_path}:\n{tail}"
        number = fail_lost_trial(self.url, run.study, run.trial_id, reason=reason, message=message,
                                 log_path=run.log_path, worker=run.worker)
        if number is not None:
            self._record(run.study, Outcome(number, "FAIL", None, reason))

    # -- starting and stopping workers ---------------------------------------------------------------------

    def _start(self, slot: WorkerSlot) -> None:
        parent_conn, child_conn = self._ctx.Pipe(duplex=False)
        config = ChildConfig(url=self.url, slot=slot, log_dir=self.log_dir, studies=self.studies,
                             totals=dict(self.totals), poll=self.poll)
        process = self._ctx.Process(target=child_main, args=(config, child_conn, self._stop),
                                    name=f"lrsearch-worker-{slot.index}", daemon=False)
        # The spawned interpreter inherits this environment: pinned to its GPU before it could initialise CUDA.
        # Started with SIGINT ignored (kept across exec): a Ctrl-C in the terminal reaches the whole process
        # group, but only the supervisor acts on it, even while a worker is still starting up.
        saved = os.environ.get("CUDA_VISIBLE_DEVICES")
        sigint = signal.signal(signal.SIGINT, signal.SIG_IGN) if _main_thread() else None
        try:
            if slot.cuda_visible_devices is not None:
                os.environ["CUDA_VISIBLE_DEVICES"] = slot.cuda_visible_devices
            process.start()
        finally:
            _set_env("CUDA_VISIBLE_DEVICES", saved)
            if sigint is not None:
                signal.signal(signal.SIGINT, sigint)
        child_conn.close()  # the child holds its end; EOF here when it dies
        self._children.append(_Child(slot, process, parent_conn))

    def _request_stop(self, why: str) -> None:
        if not self._stop.is_set():
            self.stopped_by = why
            self._stop.set()

    def _shutdown(self) -> None:
        """Ctrl-C or SIGTERM: interrupt the running trials (failed as ``interrupted``, queued again), then wait."""
        self._stop.set()
        for child in self._children:
            with suppress(ProcessLookupError):
                os.kill(child.process.pid or 0, signal.SIGTERM)
        deadline = time.monotonic() + SHUTDOWN_WAIT_S
        try:
            while self._children and time.monotonic() < deadline:
                self._step()
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: stop waiting
        for child in list(self._children):
            with suppress(ProcessLookupError):
                os.kill(child.process.pid or 0, signal.SIGKILL)
            self._exited(child)


def _set_env(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


def _interrupt(signum: int, frame: Any) -> None:
    request_stop()  # seen by the loop if this KeyboardInterrupt is dropped (see lrsearch.interrupt)
    raise KeyboardInterrupt


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"died of {name}"
    return f"exited with code {code}"
