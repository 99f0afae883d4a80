"""The run loop: ask for trials while budget is left, run them here, show progress, summarise."""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import optuna

from lrsearch.interrupt import raise_if_stopped, sticky_ctrl_c
from lrsearch.runner._heartbeat import Heartbeat
from lrsearch.runner._logs import trial_log_path, trial_output
from lrsearch.runner._lost import fail_lost_trial
from lrsearch.runner._study import StudyHandle, default_log_dir
from lrsearch.runner._trial import Outcome, run_trial
from lrsearch.search import queue_stage2_recipes
from lrsearch.storage.optuna_adapter import stale_trial_ids, storage_of, trial_id

_WAIT_S = 2.0


@dataclass
class RunSummary:
    study: str
    storage: str
    outcomes: list[Outcome] = field(default_factory=list)
    stopped_by: str = "budget"
    seconds: float = 0.0

    def count(self, state: str) -> int:
        return sum(1 for o in self.outcomes if o.state == state)


def reap_stale(handle: StudyHandle) -> list[int]:
    """Fail trials whose worker stopped sending heartbeats (reason ``killed``) and queue their configs again."""
    reaped = []
    for stale in stale_trial_ids(handle.study):
        number = fail_lost_trial(handle.url, handle.name, stale, reason="killed",
                                 message="the worker stopped sending heartbeats (killed, or its machine was lost)")
        if number is not None:
            reaped.append(number)
    return sorted(reaped)


def next_trial(handle: StudyHandle, total: int | None) -> optuna.Trial | None | str:
    """A new trial if the budget allows; ``"wait"`` while others are running the last trials; None when done."""
    with warnings.catch_warnings():
        # Optuna warns that its heartbeat is meant for optimize(); lrsearch runs the heartbeat itself.
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        with handle.budget_lock() as conn:
            if total is not None:
                counts = handle.counts(conn)
                finished = counts["COMPLETE"] + counts["PRUNED"]
                if finished >= total:
                    return None
                if finished + counts["RUNNING"] >= total:
                    return "wait"
            queue_stage2_recipes(handle)
            return handle.study.ask()


class Progress:
    """A one-line live status: done/pruned/failed, best so far, ETA."""

    def __init__(self, handle: StudyHandle, total: int | None, timeout: float | None, stream: TextIO | None) -> None:
        self.handle, self.total, self.timeout = handle, total, timeout
        self.stream = stream
        self.tty = bool(stream and stream.isatty())
        self.started = time.monotonic()
        self.last_line = 0.0
        self.last_text = ""
        self.done_at_start = self._finished()

    def _finished(self) -> int:
        c = self.handle.counts()
        return c["COMPLETE"] + c["PRUNED"]

    def update(self, outcome: Outcome | None = None, force: bool = False) -> None:
        if self.stream is None:
            return
        failed = outcome is not None and outcome.state == "FAIL"
        since = time.monotonic() - self.last_line
        if not (force or failed or since >= (0.5 if self.tty else 5.0)):
            return  # the line costs two queries: not after every fast trial
        c = self.handle.counts()
        finished = c["COMPLETE"] + c["PRUNED"]
        try:
            best = f"{self.handle.study.best_value:.4g}"
        except ValueError:
            best = "-"
        elapsed = time.monotonic() - self.started
        done_here = finished - self.done_at_start
        eta = ""
        if self.total and done_here > 0 and finished < self.total:
            eta = f" eta {_fmt_s(elapsed / done_here * (self.total - finished))}"
        of = f"/{self.total}" if self.total else ""
        line = (f"[{self.handle.name}] {finished}{of} finished ({c['COMPLETE']} complete, {c['PRUNED']} pruned), "
                f"{c['FAIL']} failed, best {self.handle.spec.objective.metric}={best}, {_fmt_s(elapsed)}{eta}")
        if outcome is not None and outcome.state == "FAIL":
            line += f"  (trial {outcome.number} failed: {outcome.reason})"
        self.last_line = time.monotonic()
        if self.tty:
            self.stream.write("\r\033[K" + line)
            self.stream.flush()
        elif line != self.last_text:
            self.last_text = line
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.stream is not None and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _fmt_s(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def run_here(handle: StudyHandle, *, trials: int | None = None, timeout: float | None = None,
             progress: TextIO | None = sys.stderr, device: str | None = None,
             on_outcome: Callable[[Outcome], Any] | None = None, log_dir: Path | None = None) -> RunSummary:
    """Run trials in this process until the study's total budget (or this run's timeout) is reached.

    Each trial's stdout/stderr goes to its log file under ``log_dir`` (default: :func:`default_log_dir`).
    """
    spec = handle.spec
    total = trials if trials is not None else spec.budget.trials
    timeout = timeout if timeout is not None else spec.budget.timeout
    log_dir = log_dir or default_log_dir(handle.url)
    summary = RunSummary(study=handle.name, storage=handle.url)
    started = time.monotonic()
    reap_stale(handle)
    bar = Progress(handle, total, timeout, progress)
    bar.update(force=True)
    max_failures = max(10, total or 10)
    try:
        with sticky_ctrl_c():
            while True:
                raise_if_stopped()
                if timeout is not None and time.monotonic() - started >= timeout:
                    summary.stopped_by = "timeout"
                    break
                if summary.count("FAIL") >= max_failures:
                    summary.stopped_by = "failures"
                    break
                trial = next_trial(handle, total)
                if trial is None:
                    break
                if trial == "wait":
                    reap_stale(handle)
                    time.sleep(_WAIT_S)
                    continue
                assert isinstance(trial, optuna.Trial)
                log_path = trial_log_path(log_dir, handle.name, trial.number)
                with Heartbeat(trial_id(trial), storage_of(handle.study)), trial_output(log_path):
                    outcome = run_trial(handle, trial, device=device, log_path=str(log_path))
                summary.outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
                bar.update(outcome)
    except KeyboardInterrupt:
        summary.stopped_by = "interrupted"
    finally:
        bar.update(force=True)
        bar.close()
        summary.seconds = time.monotonic() - started
    return summary

