"""A worker process: opens studies from the database, runs their trials one after another, reports to its
supervisor over a pipe. Started with the ``spawn`` method (CUDA cannot be used in a forked child), so it imports
torch once, keeps task data cached, and lives as long as there are trials to run."""

from __future__ import annotations

import faulthandler
import gc
import os
import signal
import sys
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from lrsearch.runner._devices import WorkerSlot

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

    reason = "done"
    try:
        import torch

        torch.set_num_threads(config.slot.threads)
        reason = _serve(config, conn, stop_event)
    except KeyboardInterrupt:
        reason = "interrupted"
    except LrsearchError as exc:
        _send(conn, ("error", config.slot.index, str(exc)))
        reason = "error"
    _send(conn, ("exit", config.slot.index, reason))
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


def _serve(config: ChildConfig, conn: Connection, stop_event: Any) -> str:
    """Run trials until no study has budget left (or a stop). A database outage is waited out by each call (up to
    ``LRSEARCH_DB_OUTAGE_LIMIT``); past it, the worker tells the supervisor and stops."""
    from lrsearch.errors import DiskFull
    from lrsearch.interrupt import stop_requested
    from lrsearch.storage import DatabaseUnavailable, is_disk_full

    state: dict[str, Any] = {"handles": {}, "done": set()}
    while not (stop_event.is_set() or stop_requested()):
        try:
            result = _turn(config, conn, stop_event, state)
        except DatabaseUnavailable as exc:
            _send(conn, ("unavailable", config.slot.index, str(exc)))
            return "unavailable"
        except (DiskFull, OSError) as exc:
            if not (isinstance(exc, DiskFull) or is_disk_full(exc)):
                raise
            _send(conn, ("disk full", config.slot.index, str(exc)))
            return "disk full"
        if result is not None:
            return result
    return "stopped"


def _turn(config: ChildConfig, conn: Connection, stop_event: Any, state: dict[str, Any]) -> str | None:
    """Run one trial, or wait once; a reason to exit when there is nothing left to do."""
    from lrsearch.interrupt import interrupts_held
    from lrsearch.runner._run import next_trial, reap_stale
    from lrsearch.runner._study import open_stored_study
    from lrsearch.storage import Store, retrying

    handles, done = state["handles"], state["done"]
    waiting = []
    names = config.studies or retrying(lambda: Store(config.url).study_names(), what="listing the studies",
                                       url=config.url)
    for name in names:
        if name in done:
            continue
        if name not in handles:
            handles[name] = retrying(lambda name=name: open_stored_study(config.url, name), what=f"opening study {name!r}",
                                     url=config.url)
            _warm_up(handles[name])
        handle = handles[name]
        with interrupts_held():  # the trial is in hand before a SIGTERM can act: it is failed and queued then
            trial = next_trial(handle, config.totals.get(name, handle.spec.budget.trials))
            if not isinstance(trial, (str, type(None))):
                log_path, worker = _announce(config, conn, handle, trial)
        if not isinstance(trial, (str, type(None))):
            return _run_one(config, conn, handle, trial, log_path, worker)
        if trial is None:
            done.add(name)
        elif trial == "wait":
            waiting.append(handle)
    if waiting:  # others run the last trials; one of them may have died
        for handle in waiting:
            reap_stale(handle)
        stop_event.wait(_WAIT_S)
    elif config.poll:
        stop_event.wait(config.poll)
        for name in done:  # a finished study may have been given more budget
            handles.pop(name, None)
        done.clear()
    else:
        return "done"
    return None


def _announce(config: ChildConfig, conn: Connection, handle: Any, trial: Any) -> tuple[Path, str]:
    """Tell the supervisor which trial this worker runs and where its log goes."""
    from lrsearch.runner._logs import trial_log_path
    from lrsearch.runner._trial import worker_name
    from lrsearch.storage.optuna_adapter import trial_id

    log_path = trial_log_path(Path(config.log_dir), handle.name, trial.number)
    worker = worker_name()
    _send(conn, ("started", config.slot.index, handle.name, trial.number, trial_id(trial), str(log_path), worker))
    return log_path, worker


def _run_one(config: ChildConfig, conn: Connection, handle: Any, trial: Any, log_path: Path, worker: str) -> str | None:
    from lrsearch.interrupt import interrupts_held, raise_if_stopped
    from lrsearch.runner._heartbeat import Heartbeat
    from lrsearch.runner._logs import trial_output
    from lrsearch.runner._lost import settle_cut_short
    from lrsearch.runner._trial import Outcome, run_trial
    from lrsearch.storage.optuna_adapter import storage_of, trial_id

    try:
        raise_if_stopped()  # a SIGTERM held back while the trial was asked for
        with Heartbeat(trial_id(trial), storage_of(handle.study)), trial_output(log_path):
            outcome = run_trial(handle, trial, device=config.slot.device, worker=worker, log_path=str(log_path),
                                threads=handle.spec.task.threads or config.slot.threads)
    except KeyboardInterrupt:
        # run_trial fails and queues a trial interrupted while it trains; this covers the moments around that.
        settle_cut_short(handle.url, handle.name, trial_id(trial), reason="interrupted",
                         message="the worker was stopped (SIGTERM)", log_path=str(log_path), limit=30)
        with interrupts_held():
            _send(conn, ("finished", config.slot.index, handle.name,
                         Outcome(trial.number, "FAIL", None, "interrupted", log_path=str(log_path))))
        raise
    with interrupts_held():
        _send(conn, ("finished", config.slot.index, handle.name, outcome))
    _release_memory()
    if outcome.reason == "oom" and _uses_cuda():
        return "recycle"  # a fresh process gives the next trial all of the GPU's memory back
    return None


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


def _send(conn: Connection, message: tuple[Any, ...]) -> None:
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
