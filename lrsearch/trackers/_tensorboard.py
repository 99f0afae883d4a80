"""TensorBoard: event files per trial, ``<log_dir>/<study>/trial-<n>``: metrics and per-group values by epoch,
and the trial's params with its final value for the HParams dashboard."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lrsearch.trackers._base import Tracker, TrackerEntry, TrialRun, TrialStart, register_tracker
from lrsearch.trackers._mlflow import group_metrics


class TensorBoardTracker(Tracker):
    def __init__(self, *, study: str, log_dir: str = "runs") -> None:
        from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

        self.writer_class = SummaryWriter
        self.study = study
        self.log_dir = Path(log_dir)

    def trial_dir(self, number: int) -> Path:
        return self.log_dir / re.sub(r"[^\w.\-]+", "_", self.study) / f"trial-{number}"

    def start_trial(self, start: TrialStart) -> TrialRun:
        writer = self.writer_class(log_dir=str(self.trial_dir(start.number)))
        return _TensorBoardRun(writer, start)


class _TensorBoardRun(TrialRun):
    def __init__(self, writer: Any, start: TrialStart) -> None:
        self.writer, self.start = writer, start

    def log_epoch(self, epoch: int, step: int, metrics: Mapping[str, float], groups: list[dict[str, Any]]) -> None:
        for key, value in {**metrics, **group_metrics(groups)}.items():
            self.writer.add_scalar(key, float(value), global_step=epoch)
        self.writer.flush()

    def end(self, state: str, value: float | None, reason: str | None) -> None:
        from torch.utils.tensorboard.summary import hparams

        params = {str(k): _hparam(v) for k, v in {**self.start.params, **self.start.attrs}.items()}
        params["state"] = state
        final = {self.start.objective: value} if value is not None and math.isfinite(value) else {}
        for summary in hparams(params, final):
            self.writer.file_writer.add_summary(summary)
        self.writer.close()


def _hparam(value: Any) -> Any:
    return value if isinstance(value, (bool, int, float, str)) else str(value)


def _resolve(options: dict[str, Any], base: Path) -> dict[str, Any]:
    log_dir = options.get("log_dir", "runs")
    if isinstance(log_dir, str) and not Path(log_dir).expanduser().is_absolute():
        return {**options, "log_dir": str((base / log_dir).resolve())}
    return options


register_tracker(TrackerEntry(
    name="tensorboard",
    factory=TensorBoardTracker,
    description="TensorBoard event files per trial: metrics and per-group values by epoch, params as hparams",
    extra="tensorboard",
    options={"log_dir": "where event files go, <log_dir>/<study>/trial-<n>; default: runs/ next to the study file"},
    resolve=_resolve,
    module="tensorboard",
))
