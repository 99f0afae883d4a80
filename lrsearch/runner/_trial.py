"""Running one trial in this process: sample, train, record, classify the outcome, tell Optuna."""

from __future__ import annotations

import contextlib
import math
import os
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

import optuna
import torch

from lrsearch.errors import DiskFull, LrsearchError
from lrsearch.runner._study import StudyHandle
from lrsearch.space import TrialConfig
from lrsearch.storage import DatabaseUnavailable, EpochRow, is_disk_full, retrying
from lrsearch.storage.optuna_adapter import tell_quietly, trial_id
from lrsearch.trackers import NO_TRACKING, StudyTrackers, TrialStart, TrialTracking
from lrsearch.training import TrialContext, TrialFailed, managed_train, resolve_device

FAIL_REASONS = ("oom", "nan", "exception", "timeout", "killed", "interrupted", "database", "disk_full")
# Curve rows are written at least this often (and when the trial ends): an epoch of real training takes longer,
# so each epoch commits on its own; trials of many fast epochs do not pay a commit per epoch.
FLUSH_EVERY_S = 2.0


@dataclass
class Outcome:
    number: int
    state: str  # COMPLETE | PRUNED | FAIL
    value: float | None
    reason: str | None = None
    epochs: int = 0
    error: str | None = None  # a failed trial's message (its traceback's last line for an exception)
    log_path: str | None = None


class StorageRecorder:
    """Writes the trial's epochs to lrsearch's tables and reports the objective to the Optuna trial.

    Epochs are committed once ``FLUSH_EVERY_S`` has passed since the last write, and with the trial's final record
    (:meth:`finish`): a trial that dies loses at most that many seconds of curve (and is failed anyway); a trial
    of fast epochs does not pay a commit per epoch.
    """

    def __init__(self, handle: StudyHandle, trial: optuna.Trial, tracking: TrialTracking = NO_TRACKING) -> None:
        self.handle, self.trial, self.tracking = handle, trial, tracking
        self.epochs = 0
        self.last_value: float | None = None
        self.pending: list[EpochRow] = []
        self.flushed_at = time.monotonic()
        self.log_path: str | None = None

    def record(self, epoch: int, step: int, wall_time: float, metrics: dict[str, float], groups: list[dict[str, Any]]) -> None:
        clean = {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}
        self.pending.append(EpochRow(epoch, step, wall_time, clean, groups))
        self.epochs = epoch
        self.tracking.log_epoch(epoch, step, metrics, groups)  # guarded: a tracker never fails the trial
        if time.monotonic() - self.flushed_at >= FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        rows = self._take()
        retrying(lambda: self.handle.store.record_epochs(self.handle.name, self.trial.number, rows),
                 what=f"recording the epochs of trial {self.trial.number}", url=self.handle.url)

    def finish(self, fail_reason: str | None = None, error: str | None = None) -> None:
        rows = self._take()
        retrying(lambda: self.handle.store.finish_trial(self.handle.name, self.trial.number, fail_reason=fail_reason,
                                                        error=error, epochs=rows),
                 what=f"closing the record of trial {self.trial.number}", url=self.handle.url)

    def _take(self) -> list[EpochRow]:
        rows, self.pending = self.pending, []
        self.flushed_at = time.monotonic()
        return rows

    def should_prune(self, epoch: int, value: float) -> bool:
        def report() -> bool:
            self.trial.report(value, epoch)
            return self.trial.should_prune()

        self.last_value = value
        return retrying(report, what=f"reporting epoch {epoch} of trial {self.trial.number}", url=self.handle.url)


def load_task_for(spec: Any) -> Any:
    """The Task object for a managed-loop spec (cached per process by lrsearch.tasks)."""
    from lrsearch.tasks import load_task

    return load_task(spec.task.builtin, spec.task.entrypoint, spec.task.options)


def load_train_function(ref: str) -> Any:
    """The user's own-loop ``train(ctx)`` named by ``package.module:function``."""
    from lrsearch.tasks import load_entrypoint

    return load_entrypoint(ref)


def classify(exc: BaseException) -> tuple[str, str]:
    """Map an exception to a recorded fail reason and a message."""
    if isinstance(exc, TrialFailed):
        return exc.reason, str(exc)
    oom_type = getattr(torch.cuda, "OutOfMemoryError", None)
    text = f"{type(exc).__name__}: {exc}"
    if (oom_type is not None and isinstance(exc, oom_type)) or "out of memory" in str(exc).lower():
        return "oom", text
    return "exception", "".join(traceback.format_exception(exc)).strip()


def make_context(handle: StudyHandle, config: TrialConfig, recorder: Any, *, device: torch.device,
                 number: int) -> TrialContext:
    spec = handle.spec
    deadline = time.monotonic() + spec.budget.trial_timeout if spec.budget.trial_timeout else None
    return TrialContext(
        config=config, objective=spec.objective.metric, direction=spec.objective.direction, device=device,
        recorder=recorder, trial_number=number, options=dict(spec.task.options), batch_size=spec.task.batch_size,
        deadline=deadline,
    )


def train_config(handle: StudyHandle, ctx: TrialContext, *, evaluate_test: bool = False) -> dict[str, float]:
    """Run the study's training (managed loop or the user's own function) under ``ctx``."""
    spec = handle.spec
    if spec.task.train:
        from lrsearch.training import run_train_function

        ctx.evaluate_test = evaluate_test
        return run_train_function(ctx, load_train_function(spec.task.train))
    task = load_task_for(spec)
    return managed_train(ctx, task, eval_batch_size=spec.task.eval_batch_size, evaluate_test=evaluate_test)


def worker_name() -> str:
    """``host:pid``, and the SLURM job (``job_task`` of an array) that runs the process, if any."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    job = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if all(job):
        return f"{name} slurm {job[0]}_{job[1]}"
    if os.environ.get("SLURM_JOB_ID"):
        return f"{name} slurm {os.environ['SLURM_JOB_ID']}"
    return name


def cpu_threads(spec_threads: int | None, workers: int = 1) -> int:
    """Threads per trial on CPU: the spec's ``task.threads``, else this machine's cores split between workers."""
    return spec_threads or max(1, (os.cpu_count() or 1) // max(1, workers))


def apply_threads(dev: torch.device, threads: int) -> str:
    """Fix the thread count (results move with it) and describe the device for the trial record."""
    if dev.type == "cpu":
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        return f"cpu/{threads}t"
    return str(dev)


def run_trial(handle: StudyHandle, trial: optuna.Trial, *, device: str | None = None, worker: str | None = None,
              log_path: str | None = None, threads: int | None = None) -> Outcome:
    """Sample ``trial``'s config, train it, and tell Optuna how it ended. Never raises for a failing trial."""
    dev = resolve_device(device or handle.spec.task.device)
    described = apply_threads(dev, threads or cpu_threads(handle.spec.task.threads))
    config = retrying(lambda: handle.space.sample(trial), what=f"sampling trial {trial.number}", url=handle.url)
    attrs = trial_attrs(config)
    # The record exists from the start: which worker and device run the trial, and where its log is; and what
    # stock Optuna tools should see as user attributes (one transaction for both).
    retrying(lambda: handle.store.start_trial(handle.name, trial.number, config=config.to_dict(), seed=config.seed,
                                              worker=worker or worker_name(), device=described, log_path=log_path,
                                              trial_id=trial_id(trial), user_attrs=attrs),
             what=f"recording the start of trial {trial.number}", url=handle.url)
    trackers = trackers_for(handle)
    tracking = NO_TRACKING if trackers is None else trackers.start_trial(TrialStart(
        handle.name, trial.number, dict(trial.params), attrs, handle.spec.objective.metric,
        handle.spec.objective.direction))
    recorder = StorageRecorder(handle, trial, tracking)
    recorder.log_path = log_path
    ctx = make_context(handle, config, recorder, device=dev, number=trial.number)
    try:
        metrics = train_config(handle, ctx)
    except optuna.TrialPruned:
        return _end(handle, trial, recorder, Outcome(trial.number, "PRUNED", recorder.last_value, epochs=recorder.epochs))
    except KeyboardInterrupt:
        _end(handle, trial, recorder, Outcome(trial.number, "FAIL", None, "interrupted", recorder.epochs),
             "stopped by Ctrl-C (or the worker was stopped)")
        # The config was cut short, not judged: run it again when the study resumes.
        handle.study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number, **carried_attrs(trial)})
        raise
    except (DatabaseUnavailable, DiskFull):
        raise  # not the trial's failure: the run stops, and the trial is failed and queued (see the run loops)
    except LrsearchError as exc:
        return _end(handle, trial, recorder, Outcome(trial.number, "FAIL", None, "exception", recorder.epochs), str(exc))
    except SystemExit as exc:  # user code calling sys.exit() fails its trial; it must not end the run as "done"
        return _end(handle, trial, recorder, Outcome(trial.number, "FAIL", None, "exception", recorder.epochs),
                    f"the trial's code called sys.exit({'' if exc.code is None else repr(exc.code)})")
    except Exception as exc:  # a failing trial must not stop the study
        if is_disk_full(exc):  # the trial's log, the user's own files: not the config's fault
            raise DiskFull(f"the disk is full: {type(exc).__name__}: {exc}. Free some space and run again: the "
                           "study resumes where it stopped") from None
        reason, message = classify(exc)
        return _end(handle, trial, recorder, Outcome(trial.number, "FAIL", None, reason, recorder.epochs), message)
    value = metrics.get(handle.spec.objective.metric, recorder.last_value)
    if value is None or not math.isfinite(value):
        return _end(handle, trial, recorder, Outcome(trial.number, "FAIL", None, "nan", recorder.epochs),
                    f"final objective is {value}")
    return _end(handle, trial, recorder, Outcome(trial.number, "COMPLETE", value, epochs=recorder.epochs))


def trial_attrs(config: TrialConfig) -> dict[str, Any]:
    """What stock Optuna tools should see of a trial besides its params: the seed, the epochs, and every group's
    resolved lr (``lr.backbone``: a ratio_of or layer-wise group's lr is not among the params)."""
    attrs: dict[str, Any] = {"seed": config.seed, "epochs": config.epochs}
    for opt in config.optimizers:
        for group in opt.groups:
            attrs[f"lr.{group.name}"] = group.lr
    return attrs


_TRACKERS: dict[tuple[str, str], StudyTrackers] = {}


def trackers_for(handle: StudyHandle) -> StudyTrackers | None:
    """The study's trackers in this process (made once: a worker runs many trials through them)."""
    if not handle.spec.trackers:
        return None
    key = (handle.url, handle.name)
    if key not in _TRACKERS:
        _TRACKERS[key] = StudyTrackers(handle.name, handle.spec.trackers)
    return _TRACKERS[key]


def _end(handle: StudyHandle, trial: optuna.Trial, recorder: StorageRecorder, outcome: Outcome,
         message: str = "") -> Outcome:
    """Tell Optuna how the trial ended and close its record."""
    if outcome.state == "FAIL":
        # The trial's log gets the reason and traceback too (stderr is the log file while a trial runs).
        with contextlib.suppress(OSError):  # a full disk: the database record below still says it
            print(f"lrsearch: trial {trial.number} failed ({outcome.reason}): {message}", file=sys.stderr, flush=True)
        outcome.error = error_line(message)
        outcome.log_path = recorder.log_path
    state = getattr(optuna.trial.TrialState, outcome.state)

    def record() -> None:
        if outcome.state == "FAIL":
            trial.set_user_attr("fail_reason", outcome.reason)
        tell_quietly(handle.study, trial, state, outcome.value if outcome.state == "COMPLETE" else None)

    try:
        retrying(record, what=f"recording the end of trial {trial.number}", url=handle.url)
    except (ValueError, optuna.exceptions.UpdateFinishedTrialError):
        # Another process failed it first: its heartbeat had been silent past the grace period.
        print(f"lrsearch: trial {trial.number} was failed meanwhile by another process (its heartbeat was lost); "
              "this result is dropped", file=sys.stderr, flush=True)
        recorder.tracking.end("FAIL", None, "killed")
        return Outcome(trial.number, "FAIL", None, "killed", recorder.epochs)
    recorder.finish(outcome.reason, message[-20000:] if outcome.state == "FAIL" else None)
    recorder.tracking.end(outcome.state, outcome.value, outcome.reason)
    return outcome


def error_line(message: str) -> str:
    """The line of a failure message that names the error: a traceback's last line, else the first line."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    return line if len(line) <= 300 else line[:300] + " ..."


def carried_attrs(trial: optuna.Trial | optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The user attributes a retried trial keeps: its recipe and its stage."""
    from lrsearch.search import RECIPE_ATTR, STAGE1_BEST_ATTR, STAGE_ATTR

    attrs = trial.user_attrs
    return {k: attrs[k] for k in (RECIPE_ATTR, STAGE_ATTR, STAGE1_BEST_ATTR) if k in attrs}

