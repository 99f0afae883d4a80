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
_DB_RETRY_S = 10.0


@dataclass
class ChildConfig:
    """What a worker process needs (picklable)."""

    url: str
    slot: WorkerSlot
    log_dir: str
    studies: list[str] | None = None  # None: every lrsearch study in the storage, in name order
    totals: dict[str, int | None] = field(default_factory=dict)  # a run's --trials, per study
    poll: float | None = None  # when no study has budget left: look again after this long instead of exiting


class _Stop:
    """SIGTERM from the supervisor: interrupt the running trial (it is failed as ``interrupted`` and queued to run
    again); between trials, just stop before the next one."""

    def __init__(self) -> None:
        self.requested = False
        self.in_trial = False

    def __call__(self, signum: int, frame: Any) -> None:
        # Only the first SIGTERM interrupts: SLURM signals every process of a job and the supervisor then signals
        # its workers again; a second KeyboardInterrupt would cut short the recording of the first.
        first = not self.requested
        self.requested = True
        if self.in_trial and first:
            from lrsearch.interrupt import request_stop

            request_stop()  # raised again at the next step if this KeyboardInterrupt is dropped (see lrsearch.interrupt)
            raise KeyboardInterrupt


def child_main(config: ChildConfig, conn: Connection, stop_event: Any) -> None:
    """Entry point of a worker process."""
    stop = _Stop()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the supervisor, which sends SIGTERM
    signal.signal(signal.SIGTERM, stop)
    if config.slot.cuda_visible_devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = config.slot.cuda_visible_devices  # before anything touches CUDA
    faulthandler.enable()  # a segfault writes the Python stack to stderr, which is the trial's log file
    _quiet()
    from lrsearch.errors import LrsearchError

    reason = "done"
    try:
        import torch

        torch.set_num_threads(config.slot.threads)
        reason = _serve(config, conn, stop_event, stop)
    except KeyboardInterrupt:
        reason = "interrupted"
    except LrsearchError as exc:
        _send(conn, ("error", config.slot.index, str(exc)))
        reason = "error"
    _send(conn, ("exit", config.slot.index, reason))
    conn.close()


def _serve(config: ChildConfig, conn: Connection, stop_event: Any, stop: _Stop) -> str:
    """Run trials until no study has budget left (or a stop); ride out a database that is briefly unreachable."""
    from sqlalchemy.exc import OperationalError

    from lrsearch.storage import redact_text

    state: dict[str, Any] = {"handles": {}, "done": set()}
    while not (stop_event.is_set() or stop.requested):
        try:
            result = _turn(config, conn, stop_event, stop, state)
        except OperationalError as exc:  # the server restarting, a network blip: pooled connections are re-made
            reason = redact_text(str(getattr(exc, "orig", exc)).strip().splitlines()[0], config.url)
            print(f"lrsearch worker {config.slot.index}: database unavailable ({reason}); retrying in "
                  f"{_DB_RETRY_S:g} s", file=sys.stderr, flush=True)
            stop_event.wait(_DB_RETRY_S)
            continue
        if result is not None:
            return result
    return "stopped"


def _turn(config: ChildConfig, conn: Connection, stop_event: Any, stop: _Stop, state: dict[str, Any]) -> str | None:
    """Run one trial, or wait once; a reason to exit when there is nothing left to do."""
    from lrsearch.runner._run import next_trial, reap_stale
    from lrsearch.runner._study import open_stored_study
    from lrsearch.storage import Store

    handles, done = state["handles"], state["done"]
    waiting = []
    for name in config.studies or Store(config.url).study_names():
        if name in done:
            continue
        if name not in handles:
            handles[name] = open_stored_study(config.url, name)
            _warm_up(handles[name])
        handle = handles[name]
        trial = next_trial(handle, config.totals.get(name, handle.spec.budget.trials))
        if trial is None:
            done.add(name)
        elif trial == "wait":
            waiting.append(handle)
        else:
            outcome = _run_one(config, conn, handle, trial, stop)
            if outcome.reason == "oom" and _uses_cuda():
                return "recycle"  # a fresh process gives the next trial all of the GPU's memory back
            return None
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


def _run_one(config: ChildConfig, conn: Connection, handle: Any, trial: Any, stop: _Stop) -> Any:
    from lrsearch.runner._heartbeat import Heartbeat
    from lrsearch.runner._logs import trial_log_path, trial_output
    from lrsearch.runner._trial import Outcome, run_trial, worker_name
    from lrsearch.storage.optuna_adapter import storage_of, trial_id

    log_path = trial_log_path(Path(config.log_dir), handle.name, trial.number)
    worker = worker_name()
    _send(conn, ("started", config.slot.index, handle.name, trial.number, trial_id(trial), str(log_path), worker))
    stop.in_trial = True
    try:
        with Heartbeat(trial_id(trial), storage_of(handle.study)), trial_output(log_path):
            outcome = run_trial(handle, trial, device=config.slot.device, worker=worker, log_path=str(log_path),
                                threads=handle.spec.task.threads or config.slot.threads)
    except KeyboardInterrupt:
        _send(conn, ("finished", config.slot.index, handle.name, Outcome(trial.number, "FAIL", None, "interrupted")))
        raise
    finally:
        stop.in_trial = False
    _send(conn, ("finished", config.slot.index, handle.name, outcome))
    _release_memory()
    return outcome


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
