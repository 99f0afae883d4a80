"""Replaying a recorded trial: retrain its config with its seed and thread count, compare epoch by epoch.

On the same kind of device and thread count, training is deterministic on CPU: the seed fixes the model's
initialisation and the batch order, and a fixed thread count fixes the order of floating-point reductions.
A replay there reproduces the recorded metrics exactly; the default tolerance (1e-6) only absorbs the float32
rounding of metrics computed from float32 tensors. GPUs (cuDNN algorithm choice, atomics) and a different
thread count do not reproduce bit for bit: pass a looser ``--tolerance`` there.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import optuna
import sqlalchemy as sa
import torch

from lrsearch.errors import LrsearchError
from lrsearch.results._source import finished_trial, open_readonly, recorded_threads, trial_config
from lrsearch.runner import make_context, train_config
from lrsearch.storage import tables
from lrsearch.text import table_lines
from lrsearch.training import NullRecorder, resolve_device

DEFAULT_TOLERANCE = 1e-6


class _StopAfter(NullRecorder):
    """Records in memory and stops the run after the last epoch the trial recorded (a pruned trial's)."""

    def __init__(self, last_epoch: int) -> None:
        super().__init__()
        self.last_epoch = last_epoch

    def should_prune(self, epoch: int, value: float) -> bool:
        return epoch >= self.last_epoch


@dataclass
class ReplayResult:
    study: str
    trial: int
    state: str
    metric: str
    tolerance: float
    device: str
    recorded_device: str
    threads: int | None
    seconds: float
    rows: list[tuple[int, float | None, float | None]] = field(default_factory=list)  # epoch, recorded, replayed

    @property
    def diffs(self) -> list[float]:
        return [abs(b - a) if a is not None and b is not None else math.inf for _, a, b in self.rows]

    @property
    def max_diff(self) -> float:
        return max(self.diffs, default=0.0)

    @property
    def ok(self) -> bool:
        return bool(self.rows) and self.max_diff <= self.tolerance


def _recorded(handle: Any, number: int, metric: str) -> dict[int, float | None]:
    e = tables.epochs
    with handle.store.engine.connect() as conn:
        rows = conn.execute(sa.select(e.c.epoch, e.c.metrics).where(e.c.study_name == handle.name,
                                                                     e.c.trial_number == number)).all()
    return {int(epoch): (metrics or {}).get(metric) for epoch, metrics in rows}


def replay_trial(storage: str, study: str, trial: int, *, tolerance: float = DEFAULT_TOLERANCE,
                 device: str | None = None) -> ReplayResult:
    """Retrain trial ``trial`` of ``study`` (COMPLETE or PRUNED) and compare its objective per epoch."""
    if not tolerance >= 0:
        raise LrsearchError(f"--tolerance must be >= 0, got {tolerance}")
    handle = open_readonly(storage, study)
    frozen = finished_trial(handle, trial, states=("COMPLETE", "PRUNED"), purpose="replay")
    config, info = trial_config(handle, trial)
    metric = handle.spec.objective.metric
    recorded = _recorded(handle, trial, metric)
    dev = resolve_device(device or handle.spec.task.device)
    threads = recorded_threads(info.get("device"))
    if dev.type == "cpu":
        threads = threads or handle.spec.task.threads or torch.get_num_threads()
        torch.set_num_threads(threads)
    recorder = _StopAfter(max(recorded, default=config.epochs))
    ctx = make_context(handle, config, recorder, device=dev, number=trial)
    ctx.deadline = None
    started = time.monotonic()
    try:
        train_config(handle, ctx)
    except optuna.TrialPruned:
        pass
    replayed = {r["epoch"]: r["metrics"].get(metric) for r in recorder.epochs}
    epochs = sorted(set(recorded) | set(replayed))
    return ReplayResult(
        study=study, trial=trial, state=frozen.state.name, metric=metric, tolerance=tolerance,
        device=f"cpu/{threads}t" if dev.type == "cpu" else str(dev), recorded_device=str(info.get("device")),
        threads=threads, seconds=time.monotonic() - started,
        rows=[(e, recorded.get(e), replayed.get(e)) for e in epochs],
    )


def format_replay(result: ReplayResult) -> str:
    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:.6f}"

    lines = [f"replay of trial #{result.trial} of study {result.study!r} ({result.state}) on {result.device} "
             f"(recorded on {result.recorded_device}), {result.seconds:.1f}s"]
    rows = [(str(epoch), num(a), num(b), f"{d:.2g}")
            for (epoch, a, b), d in zip(result.rows, result.diffs, strict=True)]
    lines += table_lines(rows, header=("epoch", f"recorded {result.metric}", "replayed", "diff"), right=range(4))
    verdict = "reproduced" if result.ok else "NOT reproduced"
    lines.append(f"{verdict}: max |diff| {result.max_diff:.3g} (tolerance {result.tolerance:g})")
    if result.device != result.recorded_device:
        lines.append("note: the device or thread count differs from the recorded trial's; exact agreement is not "
                     "expected there")
    return "\n".join(lines)
