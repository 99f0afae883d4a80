"""A worker process as its supervisor sees it: starting it, reading its messages, signalling it, how it ended.

The pipe is one-way, worker to supervisor (the protocol: :mod:`lrsearch.runner._messages`); the supervisor reaches
the worker through the stop event it is started with and through signals (:meth:`WorkerProcess.signal`).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any

from lrsearch.runner._child import ChildConfig, child_main
from lrsearch.runner._devices import WorkerSlot
from lrsearch.runner._messages import ExitReason, WorkerMessage, check_message


@dataclass
class RunningTrial:
    """The trial a worker said it started (:class:`~lrsearch.runner._messages.TrialStarted`)."""

    study: str
    number: int
    trial_id: int
    log_path: str
    worker: str
    started: float  # monotonic, in the supervisor
    limit: float | None  # when the supervisor kills it (see ``hard_limit``)


@dataclass
class WorkerProcess:
    slot: WorkerSlot
    process: BaseProcess
    conn: Connection
    running: RunningTrial | None = None
    exit_reason: ExitReason | None = None  # as the worker said
    killed_for: str | None = None  # "timeout" when the supervisor killed it
    eof: bool = False  # its end of the pipe is closed (it is exiting)

    def received(self) -> Iterator[WorkerMessage]:
        """The messages the worker has sent since the last call (without waiting for more)."""
        while not self.eof:
            try:
                if not self.conn.poll():
                    return
                message = self.conn.recv()
            except (EOFError, OSError):
                self.eof = True
                return
            yield check_message(message, self.slot.index)

    def signal(self, signum: int) -> None:
        with suppress(ProcessLookupError):
            os.kill(self.process.pid or 0, signum)


def start_worker(ctx: SpawnContext, config: ChildConfig, stop_event: Any) -> WorkerProcess:
    """Start a worker process for ``config.slot``, which runs until ``stop_event`` is set or nothing is left."""
    parent_conn, child_conn = ctx.Pipe(duplex=False)
    process = ctx.Process(target=child_main, args=(config, child_conn, stop_event),
                          name=f"lrsearch-worker-{config.slot.index}", daemon=False)
    # The spawned interpreter inherits this environment: pinned to its GPU before it could initialise CUDA.
    # Started with SIGINT ignored (kept across exec): a Ctrl-C in the terminal reaches the whole process
    # group, but only the supervisor acts on it, even while a worker is still starting up.
    saved = os.environ.get("CUDA_VISIBLE_DEVICES")
    sigint = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread() else None
    try:
        if config.slot.cuda_visible_devices is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = config.slot.cuda_visible_devices
        process.start()
    finally:
        set_env("CUDA_VISIBLE_DEVICES", saved)
        if sigint is not None:
            signal.signal(signal.SIGINT, sigint)
    child_conn.close()  # the child holds its end; EOF here when it dies
    return WorkerProcess(config.slot, process, parent_conn)


def describe_exit(code: int | None) -> str:
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"died of {name}"
    return f"exited with code {code}"


def set_env(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


def main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
