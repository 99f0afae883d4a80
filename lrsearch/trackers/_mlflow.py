"""MLflow: a parent run per study, one nested run per trial (params, per-epoch metrics, per-group values).

Runs are found again by tags (``lrsearch.study``, ``lrsearch.role``), so that every worker, on any machine, nests
its trials under the same study run, and a resumed study goes on under it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lrsearch.trackers._base import Tracker, TrackerEntry, TrialRun, TrialStart, register_tracker

# MLflow state for lrsearch's trial states
_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}


def group_metrics(groups: list[dict[str, Any]]) -> dict[str, float]:
    """``lr/<group>``, ``momentum/<group>``, ``weight_decay/<group>`` and ``frozen/<group>`` of every group.

    Group names are unique across a study's optimizers, so the optimizer is not part of the name.
    """
    out: dict[str, float] = {}
    for g in groups:
        name = g["group_name"]
        out[f"lr/{name}"] = float(g["lr"])
        if g.get("momentum") is not None:
            out[f"momentum/{name}"] = float(g["momentum"])
        out[f"weight_decay/{name}"] = float(g["weight_decay"])
        out[f"frozen/{name}"] = float(bool(g["frozen"]))
    return out


class MLflowTracker(Tracker):
    def __init__(self, *, study: str, tracking_uri: str | None = None, experiment: str | None = None,
                 timeout: float = 10.0) -> None:
        # A tracking server that is down should cost seconds, not MLflow's minutes of retries with backoff.
        # The user's own settings win.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(timeout)))
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        from mlflow.tracking import MlflowClient

        self.study = study
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.experiment_name = experiment or study
        self._experiment_id: str | None = None
        self._parent_id: str | None = None

    def _experiment(self) -> str:
        if self._experiment_id is None:
            found = self.client.get_experiment_by_name(self.experiment_name)
            if found is None:
                try:
                    self._experiment_id = self.client.create_experiment(self.experiment_name)
                except Exception:  # another worker created it first
                    found = self.client.get_experiment_by_name(self.experiment_name)
                    if found is None:
                        raise
                    self._experiment_id = found.experiment_id
            else:
                self._experiment_id = found.experiment_id
        return self._experiment_id

    def _parent(self, start: TrialStart) -> str:
        if self._parent_id is None:
            experiment = self._experiment()
            runs = self.client.search_runs(
                [experiment], max_results=1, order_by=["attributes.start_time ASC"],
                filter_string=f"tags.`lrsearch.study` = '{_quote(self.study)}' and tags.`lrsearch.role` = 'study'")
            if runs:
                self._parent_id = runs[0].info.run_id
            else:
                run = self.client.create_run(experiment, run_name=self.study, tags={
                    "lrsearch.study": self.study, "lrsearch.role": "study",
                    "lrsearch.objective": f"{start.direction} {start.objective}"})
                # The study's run holds its trials; it is not itself running anything.
                self.client.set_terminated(run.info.run_id, "FINISHED")
                self._parent_id = run.info.run_id
        return self._parent_id

    def start_trial(self, start: TrialStart) -> TrialRun:
        from mlflow.entities import Param

        parent = self._parent(start)
        run = self.client.create_run(self._experiment(), run_name=f"trial-{start.number}", tags={
            "mlflow.parentRunId": parent, "lrsearch.study": self.study, "lrsearch.role": "trial",
            "lrsearch.trial": str(start.number)})
        params = {**{k: v for k, v in start.params.items()}, **start.attrs}
        self.client.log_batch(run.info.run_id, params=[Param(str(k), str(v)) for k, v in params.items()])
        return _MLflowRun(self, run.info.run_id, parent, start)


class _MLflowRun(TrialRun):
    def __init__(self, tracker: MLflowTracker, run_id: str, parent: str, start: TrialStart) -> None:
        self.tracker, self.run_id, self.parent, self.start = tracker, run_id, parent, start

    def log_epoch(self, epoch: int, step: int, metrics: Mapping[str, float], groups: list[dict[str, Any]]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        values = {**{k: float(v) for k, v in metrics.items()}, **group_metrics(groups)}
        self.tracker.client.log_batch(self.run_id, metrics=[Metric(k, v, now, epoch) for k, v in values.items()
                                                            if v == v and abs(v) != float("inf")])

    def end(self, state: str, value: float | None, reason: str | None) -> None:
        client = self.tracker.client
        client.set_tag(self.run_id, "lrsearch.state", state)
        if reason:
            client.set_tag(self.run_id, "lrsearch.fail_reason", reason)
        client.set_terminated(self.run_id, _STATUS.get(state, "FAILED"))


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _resolve(options: dict[str, Any], base: Path) -> dict[str, Any]:
    """A relative ``sqlite:///`` or ``file:`` tracking URI (or plain directory) is relative to the study file."""
    uri = options.get("tracking_uri")
    if not isinstance(uri, str):
        return options
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = f"sqlite:///{(base / uri[len('sqlite:///'):]).as_posix()}"
    elif uri.startswith("file:") and not uri.startswith("file:/"):
        uri = (base / uri[len("file:"):]).resolve().as_uri()
    elif "://" not in uri and not uri.startswith("file:") and not Path(uri).is_absolute() and uri != "databricks":
        uri = (base / uri).resolve().as_uri()
    return {**options, "tracking_uri": uri}


register_tracker(TrackerEntry(
    name="mlflow",
    factory=MLflowTracker,
    description="MLflow: a run per study, a nested run per trial with params, per-epoch metrics and group values",
    extra="mlflow",
    options={
        "tracking_uri": "where runs go: http://host:5000, sqlite:///mlflow.db, a directory; default: MLflow's own "
                        "(MLFLOW_TRACKING_URI)",
        "experiment": "the MLflow experiment; default: the study name",
        "timeout": "seconds an HTTP request to a tracking server may take (default 10)",
    },
    resolve=_resolve,
    module="mlflow",
))
