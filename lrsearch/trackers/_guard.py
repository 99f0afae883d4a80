"""Trackers as guests of a trial: every call is guarded, a failure is one warning, and the trial goes on."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from lrsearch.trackers._base import Tracker, TrialRun, TrialStart, get_tracker


class TrackerWarning(UserWarning):
    """A tracker could not be reached or failed; the trial went on without it."""


def _warn(name: str, what: str, exc: BaseException) -> None:
    warnings.warn(f"tracker {name}: {what} failed ({type(exc).__name__}: {exc}); the trial goes on without it",
                  TrackerWarning, stacklevel=3)


class StudyTrackers:
    """The trackers of one study in this process, created on first use from the spec's ``trackers:``."""

    def __init__(self, study: str, specs: list[Any]) -> None:
        self.study = study
        self.specs = list(specs)
        self._trackers: dict[int, Tracker] = {}

    def _tracker(self, index: int) -> Tracker:
        if index not in self._trackers:
            spec = self.specs[index]
            entry = get_tracker(spec.name)
            if entry is None:
                raise KeyError(f"no tracker named {spec.name!r} is registered here")
            self._trackers[index] = entry.factory(study=self.study, **spec.options)
        return self._trackers[index]

    def start_trial(self, start: TrialStart) -> TrialTracking:
        runs: list[tuple[str, TrialRun]] = []
        for index, spec in enumerate(self.specs):
            try:
                runs.append((spec.name, self._tracker(index).start_trial(start)))
            except Exception as exc:  # unreachable server, missing package, unwritable directory, ...
                self._trackers.pop(index, None)  # built again for the next trial: the server may be back
                _warn(spec.name, f"starting trial {start.number}", exc)
        return TrialTracking(runs)

    def close(self) -> None:
        for index, tracker in list(self._trackers.items()):
            try:
                tracker.close()
            except Exception as exc:
                _warn(self.specs[index].name, "closing", exc)
        self._trackers.clear()


class TrialTracking:
    """The tracker runs of one trial; a run that fails once is dropped for the rest of the trial."""

    def __init__(self, runs: list[tuple[str, TrialRun]]) -> None:
        self.runs = runs

    def log_epoch(self, epoch: int, step: int, metrics: Mapping[str, float], groups: list[dict[str, Any]]) -> None:
        self._each("logging epoch " + str(epoch), lambda run: run.log_epoch(epoch, step, metrics, groups))

    def end(self, state: str, value: float | None, reason: str | None) -> None:
        self._each("ending the trial", lambda run: run.end(state, value, reason))
        self.runs = []

    def _each(self, what: str, call: Any) -> None:
        alive = []
        for name, run in self.runs:
            try:
                call(run)
            except Exception as exc:
                _warn(name, what, exc)
                continue
            alive.append((name, run))
        self.runs = alive


NO_TRACKING = TrialTracking([])
