"""Running one trial in this process: sample, train, record, classify the outcome, tell Optuna."""

from __future__ import annotations

import math
import os
import socket
import time
import traceback
from dataclasses import dataclass
from typing import Any

import optuna
import torch

from lrsearch.errors import LrsearchError
from lrsearch.runner._study import StudyHandle
from lrsearch.space import TrialConfig
from lrsearch.training import TrialContext, TrialFailed, managed_train, resolve_device

FAIL_REASONS = ("oom", "nan", "exception", "timeout", "killed", "interrupted")


@dataclass
class Outcome:
    number: int
    state: str  # COMPLETE | PRUNED | FAIL
    value: float | None
    reason: str | None = None
    epochs: int = 0


class StorageRecorder:
    """Writes each epoch to lrsearch's tables and reports the objective to the Optuna trial."""

    def __init__(self, handle: StudyHandle, trial: optuna.Trial) -> None:
        self.handle, self.trial = handle, trial
        self.epochs = 0
        self.last_value: float | None = None

    def record(self, epoch: int, step: int, wall_time: float, metrics: dict[str, float], groups: list[dict[str, Any]]) -> None:
        clean = {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}
        self.handle.store.record_epoch(self.handle.name, self.trial.number, epoch, step, wall_time, clean, groups)
        self.epochs = epoch

    def should_prune(self, epoch: int, value: float) -> bool:
        self.trial.report(value, epoch)
        self.last_value = value
        return self.trial.should_prune()


def load_task_for(spec: Any) -> Any:
    """The Task object for a managed-loop spec (cached per process by lrsearch.tasks)."""
    from lrsearch.tasks import load_task

    return load_task(spec.task.builtin, spec.task.entrypoint, spec.task.options)


def load_train_function(ref: str) -> Any:
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
        fn = load_train_function(spec.task.train)
        result = fn(ctx)
        return result if isinstance(result, dict) else {}
    task = load_task_for(spec)
    return managed_train(ctx, task, eval_batch_size=spec.task.eval_batch_size, evaluate_test=evaluate_test)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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
    study, store = handle.study, handle.store
    dev = resolve_device(device or handle.spec.task.device)
    described = apply_threads(dev, threads or cpu_threads(handle.spec.task.threads))
    config = handle.space.sample(trial)
    store.start_trial(handle.name, trial.number, config=config.to_dict(), seed=config.seed,
                      worker=worker or worker_name(), device=described, log_path=log_path)
    recorder = StorageRecorder(handle, trial)
    ctx = make_context(handle, config, recorder, device=dev, number=trial.number)
    try:
        metrics = train_config(handle, ctx)
    except optuna.TrialPruned:
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        store.finish_trial(handle.name, trial.number)
        return Outcome(trial.number, "PRUNED", recorder.last_value, epochs=recorder.epochs)
    except KeyboardInterrupt:
        _fail(handle, trial, "interrupted", "stopped by Ctrl-C")
        # The config was cut short, not judged: run it again when the study resumes.
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        raise
    except LrsearchError as exc:
        reason, message = "exception", str(exc)
        _fail(handle, trial, reason, message)
        return Outcome(trial.number, "FAIL", None, reason, recorder.epochs)
    except Exception as exc:  # a failing trial must not stop the study
        reason, message = classify(exc)
        _fail(handle, trial, reason, message)
        return Outcome(trial.number, "FAIL", None, reason, recorder.epochs)
    value = metrics.get(handle.spec.objective.metric, recorder.last_value)
    if value is None or not math.isfinite(value):
        _fail(handle, trial, "nan", f"final objective is {value}")
        return Outcome(trial.number, "FAIL", None, "nan", recorder.epochs)
    study.tell(trial, value)
    store.finish_trial(handle.name, trial.number)
    return Outcome(trial.number, "COMPLETE", value, epochs=recorder.epochs)


def _fail(handle: StudyHandle, trial: optuna.Trial, reason: str, message: str) -> None:
    trial.set_user_attr("fail_reason", reason)
    handle.study.tell(trial, state=optuna.trial.TrialState.FAIL)
    handle.store.finish_trial(handle.name, trial.number, fail_reason=reason, error=message[-20000:])
