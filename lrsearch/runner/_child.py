"""A worker process: opens studies from the database, runs their trials one after another, reports to its
supervisor over a pipe. Started with the ``spawn`` method (CUDA cannot be used in a forked child), so it imports
torch once, keeps task data cached, and lives as long as there are trials to run.

Each trial is one turn of :func:`lrsearch.runner._loop.take_turn`, as in ``lrsearch run`` without workers; the
worker tells its supervisor what happens in the messages of :mod:`lrsearch.runner._messages` (the trial in hand,
its outcome, an outage, why it exits). The supervisor reaches the worker only through the stop event (checked
between trials) and signals: SIGTERM interrupts the running trial, which is failed as ``interrupted`` and queued
to run first again."""

from __future__ import annotations

import faulthandler
import gc
import os
import signal
import sys
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrsearch.runner._devices import WorkerSlot
from lrsearch.runner._messages import (
    DatabaseLost,
    DiskFilled,
    ExitReason,
    TrialFinished,
    TrialStarted,
    WorkerExiting,
    WorkerFailed,
    WorkerMessage,
)

if TYPE_CHECKING:  # pragma: no cover
    from lrsearch.runner._loop import NoTrial
    from lrsearch.runner._study import StudyHandle
    from lrsearch.runner._trial import Outcome

_WAIT_S = 1.0


@dataclass
class ChildConfig:
    """What a worker process needs (picklable)."""

    url: str
    slot: WorkerSlot
    log_dir: str
    studies: list[str] | None = None  # None: every lrsearch study in the storage, in name order
    totals: dict[str, int | None] = field(default_factory=dict)  # a run's --trials, per study
    poll: float | None = None  # when no study has budget left: look again after this long instead of exiting
    parent_pid: int | None = None  # the supervisor: this worker stops when it is gone


def child_main(config: ChildConfig, conn: Connection, stop_event: Any) -> None:
    """Entry point of a worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the supervisor, which sends SIGTERM
    if config.slot.cuda_visible_devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = config.slot.cuda_visible_devices  # before anything touches CUDA
    # SIGTERM (from the supervisor, or from the kernel when the supervisor dies) interrupts the running trial: it
    # is failed as ``interrupted`` and queued to run again. Between trials, the worker just stops.
    signal.signal(signal.SIGTERM, _on_sigterm)
    _die_with(config.parent_pid)
    faulthandler.enable()  # a segfault writes the Python stack to stderr, which is the trial's log file
    _quiet()
    from lrsearch.errors import LrsearchError

    reason = ExitReason.DONE
    try:
        import torch

        torch.set_num_threads(config.slot.threads)
        reason = _serve(config, conn, stop_event)
    except KeyboardInterrupt:
        reason = ExitReason.INTERRUPTED
    except LrsearchError as exc:
        _send(conn, WorkerFailed(config.slot.index, str(exc)))
        reason = ExitReason.ERROR
    _send(conn, WorkerExiting(config.slot.index, reason))
    conn.close()


def _on_sigterm(signum: int, frame: Any) -> None:
    """Only the first SIGTERM interrupts: SLURM signals every process of a job and the supervisor then signals its
    workers again; a second KeyboardInterrupt would cut short the recording of the first."""
    from lrsearch.interrupt import on_stop_signal, stop_requested

    if not stop_requested():
        on_stop_signal(signum, frame)


def _die_with(parent_pid: int | None) -> None:
    """Get SIGTERM when the supervisor dies, even of SIGKILL (Linux: ``PR_SET_PDEATHSIG``; elsewhere a thread
    watching the parent), so that no worker runs trials unsupervised."""
    if parent_pid is None:
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, signal.SIGTERM, 0, 0, 0) != 0:  # PR_SET_PDEATHSIG = 1
            raise OSError(ctypes.get_errno(), "prctl")
    except (OSError, AttributeError):
        import threading

        def watch() -> None:
            while os.getppid() == parent_pid:
                threading.Event().wait(1.0)
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=watch, name="lrsearch-parent-watch", daemon=True).start()
        return
    if os.getppid() != parent_pid:  # the supervisor died before the signal was armed
        os.kill(os.getpid(), signal.SIGTERM)


def _serve(config: ChildConfig, conn: Connection, stop_event: Any) -> ExitReason:
    """Run trials until no study has budget left (or a stop). A database outage is waited out by each call (up to
    ``LRSEARCH_DB_OUTAGE_LIMIT``); past it, the worker tells the supervisor and stops."""
    from lrsearch.errors import DiskFull
    from lrsearch.interrupt import stop_requested
    from lrsearch.storage import DatabaseUnavailable, is_disk_full

    studies = _Studies()
    while not (stop_event.is_set() or stop_requested()):
        try:
            reason = _turn(config, conn, stop_event, studies)
        except DatabaseUnavailable as exc:
            _send(conn, DatabaseLost(config.slot.index, str(exc)))
            return ExitReason.UNAVAILABLE
        except (DiskFull, OSError) as exc:
            if not (isinstance(exc, DiskFull) or is_disk_full(exc)):
                raise
            _send(conn, DiskFilled(config.slot.index, str(exc)))
            return ExitReason.DISK_FULL
        if reason is not None:
            return reason
    return ExitReason.STOPPED


@dataclass
class _Studies:
    """The studies this worker has opened, and those whose budget it found spent."""

    handles: dict[str, StudyHandle] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)

    def open(self, url: str, name: str) -> StudyHandle:
        from lrsearch.runner._study import open_stored_study
        from lrsearch.storage import retrying

        if name not in self.handles:
            self.handles[name] = retrying(lambda: open_stored_study(url, name), what=f"opening study {name!r}",
                                          url=url)
            _warm_up(self.handles[name])
        return self.handles[name]

    def look_again(self) -> None:
        """A finished study may have been given more budget since."""
        for name in self.done:
            self.handles.pop(name, None)
        self.done.clear()


def _turn(config: ChildConfig, conn: Connection, stop_event: Any, studies: _Studies) -> ExitReason | None:
    """Run one trial, or wait once; a reason to exit when there is nothing left to do."""
    from lrsearch.runner._loop import NoTrial
    from lrsearch.storage import Store, retrying

    waiting = False
    names = config.studies or retrying(lambda: Store(config.url).study_names(), what="listing the studies",
                                       url=config.url)
    for name in names:
        if name in studies.done:
            continue
        handle = studies.open(config.url, name)
        turn = _take_turn(config, conn, handle)
        if turn is NoTrial.DONE:
            studies.done.add(name)
        elif turn is NoTrial.WAIT:
            waiting = True  # others run the last trials; the turn reaped those of dead workers
        else:
            _release_memory()
            if turn.reason == "oom" and _uses_cuda():
                return ExitReason.RECYCLE  # a fresh process gives the next trial all of the GPU's memory back
            return None
    if waiting:
        stop_event.wait(_WAIT_S)
    elif config.poll:
        stop_event.wait(config.poll)
        studies.look_again()
    else:
        return ExitReason.DONE
    return None


def _take_turn(config: ChildConfig, conn: Connection, handle: StudyHandle) -> Outcome | NoTrial:
    """The shared turn (:func:`lrsearch.runner._loop.take_turn`), told to the supervisor: the trial when it is
    in hand, its outcome when it ends (``interrupted`` when a SIGTERM cuts it short)."""
    from lrsearch.interrupt import interrupts_held
    from lrsearch.runner._loop import Asked, take_turn
    from lrsearch.runner._lost import settle_cut_short
    from lrsearch.runner._trial import Outcome, worker_name
    from lrsearch.storage.optuna_adapter import trial_id

    slot, worker = config.slot.index, worker_name()
    held: list[Asked] = []

    def announce(asked: Asked) -> None:
        held.append(asked)
        _send(conn, TrialStarted(slot, asked.study, asked.trial.number, trial_id(asked.trial), str(asked.log_path),
                                 worker))

    try:
        turn = take_turn(handle, config.totals.get(handle.name, handle.spec.budget.trials), Path(config.log_dir),
                         announce=announce, device=config.slot.device, worker=worker,
                         threads=handle.spec.task.threads or config.slot.threads)
    except KeyboardInterrupt:
        if held:
            # run_trial fails and queues a trial interrupted while it trains; this covers the moments around that.
            asked = held[0]
            settle_cut_short(handle.url, handle.name, trial_id(asked.trial), reason="interrupted",
                             message="the worker was stopped (SIGTERM)", log_path=str(asked.log_path), limit=30)
            with interrupts_held():
                _send(conn, TrialFinished(slot, handle.name, Outcome(asked.trial.number, "FAIL", None, "interrupted",
                                                                     log_path=str(asked.log_path))))
        raise
    if isinstance(turn, Outcome):
        with interrupts_held():
            _send(conn, TrialFinished(slot, handle.name, turn))
    return turn


def _warm_up(handle: Any) -> None:
    """Load the study's task data and torch's lazily imported optimizer machinery (seconds, once per process)
    before asking for a trial, so that neither counts against the first trial's ``budget.trial_timeout``."""
    import torch

    from lrsearch.runner._trial import load_task_for, load_train_function

    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    try:
        if handle.spec.task.train:
            load_train_function(handle.spec.task.train)
        else:
            load_task_for(handle.spec)
    except Exception:  # noqa: BLE001 - the trials report it, each with its reason
        pass


def _release_memory() -> None:
    """Give the GPU memory of the finished trial back before the next one. (A full collection costs tens of ms
    with torch loaded: only worth it where GPU memory is at stake.)"""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        gc.collect()
        torch.cuda.empty_cache()


def _uses_cuda() -> bool:
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_initialized())


def _send(conn: Connection, message: WorkerMessage) -> None:
    try:
        conn.send(message)
    except (BrokenPipeError, OSError):  # the supervisor is gone; the heartbeat covers what it cannot record
        pass


def _quiet() -> None:
    import logging
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    logging.getLogger("optuna").setLevel(logging.WARNING)
