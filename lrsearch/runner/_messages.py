"""What a worker process tells its supervisor, over the one-way pipe the supervisor gives it.

The protocol, in the order a worker sends it (each message names the worker's slot):

- :class:`TrialStarted` once it holds a trial (the trial is RUNNING in the database), before it starts training.
  Sent with interrupts held, so that the supervisor knows the trial before a stop could act: if the worker dies
  from here on, the supervisor fails that trial (``killed``, ``timeout``...) and queues its config.
- :class:`TrialFinished` with the trial's :class:`~lrsearch.runner.Outcome`, when it ended in any way the
  worker could record itself (complete, pruned, failed; ``interrupted`` when a SIGTERM cut it short). The
  supervisor counts it, shows it, and applies the stop rules (see :class:`lrsearch.runner._loop.StopRules`).
- :class:`DatabaseLost` when the database stayed unreachable past ``LRSEARCH_DB_OUTAGE_LIMIT``, or
  :class:`DiskFilled` when the disk is full: the worker stops; the supervisor stops every worker and fails the
  trial this one was running (which the worker could not write).
- :class:`WorkerFailed` when a user error (:class:`~lrsearch.errors.LrsearchError`: a study it cannot open, a task
  it cannot import) stops the worker.
- :class:`WorkerExiting` last, with why it exits (:class:`ExitReason`); then it closes the pipe.

The supervisor sends nothing back: it stops workers with the shared stop event (between trials), SIGTERM (a
running trial is failed as ``interrupted`` and queued again) or SIGKILL (a hung trial, a full disk). A message of
any other type is a bug in lrsearch: :func:`check_message` raises :class:`ProtocolError` for it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from lrsearch.runner._trial import Outcome


class ProtocolError(RuntimeError):
    """A worker sent something the supervisor does not understand: a bug in lrsearch, not in the user's study."""


class ExitReason(enum.Enum):
    DONE = "done"  # no study has budget left
    STOPPED = "stopped"  # the supervisor's stop event (budget, timeout, failures, another worker's outage)
    INTERRUPTED = "interrupted"  # SIGTERM
    ERROR = "error"  # after WorkerFailed
    UNAVAILABLE = "unavailable"  # after DatabaseLost
    DISK_FULL = "disk full"  # after DiskFilled
    RECYCLE = "recycle"  # a CUDA out-of-memory trial: a fresh process gets all of the GPU's memory back


@dataclass(frozen=True)
class TrialStarted:
    slot: int
    study: str
    number: int
    trial_id: int
    log_path: str
    worker: str  # ``host:pid`` (and the SLURM job), as the trial's record says


@dataclass(frozen=True)
class TrialFinished:
    slot: int
    study: str
    outcome: Outcome


@dataclass(frozen=True)
class _Stopped:
    """A worker that has to stop, and why (``message``); its kind says what the supervisor does about it."""

    slot: int
    message: str


class DatabaseLost(_Stopped):
    """The database stayed unreachable past the outage limit."""


class DiskFilled(_Stopped):
    """No room left to write."""


class WorkerFailed(_Stopped):
    """Any other error that ends the worker."""


@dataclass(frozen=True)
class WorkerExiting:
    slot: int
    reason: ExitReason


WorkerMessage = TrialStarted | TrialFinished | DatabaseLost | DiskFilled | WorkerFailed | WorkerExiting
_KINDS = (TrialStarted, TrialFinished, DatabaseLost, DiskFilled, WorkerFailed, WorkerExiting)


def check_message(message: object, slot: int) -> WorkerMessage:
    """``message`` as received from worker ``slot``; :class:`ProtocolError` for anything else."""
    if not isinstance(message, _KINDS):
        raise ProtocolError(f"internal error: worker {slot} sent {message!r}, which is not a worker message "
                            f"(expected one of {', '.join(k.__name__ for k in _KINDS)}); this is a bug in lrsearch")
    if message.slot != slot:
        raise ProtocolError(f"internal error: worker {slot} sent a message in the name of worker {message.slot}: "
                            f"{message!r}; this is a bug in lrsearch")
    return message
