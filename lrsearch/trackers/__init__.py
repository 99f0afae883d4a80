"""Experiment trackers (``trackers:`` in the spec): MLflow and TensorBoard see every trial as a run.

A tracker that cannot be reached, or whose package is not installed, warns and never fails a trial.
"""

from lrsearch.trackers._base import (
    Tracker,
    TrackerEntry,
    TrialRun,
    TrialStart,
    get_tracker,
    register_tracker,
    tracker_names,
)
from lrsearch.trackers._guard import NO_TRACKING, StudyTrackers, TrackerWarning, TrialTracking
from lrsearch.trackers._mlflow import group_metrics

# Trackers register themselves on import; their packages load only when a study uses them.
from lrsearch.trackers import _mlflow, _tensorboard  # noqa: E402, F401, I001  isort: skip

__all__ = [
    "NO_TRACKING", "StudyTrackers", "Tracker", "TrackerEntry", "TrackerWarning", "TrialRun", "TrialStart",
    "TrialTracking", "get_tracker", "group_metrics", "register_tracker", "tracker_names",
]
