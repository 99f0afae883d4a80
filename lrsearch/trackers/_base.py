"""The tracker protocol: what an experiment tracker gets from a study, and the registry of trackers.

A tracker sees each trial as a run: its params when it starts, every epoch's metrics and per-group values
(lr, momentum, weight decay, frozen), and how it ended. A tracker is a guest: :mod:`lrsearch.trackers._guard`
turns its failures into warnings, so that a tracker that cannot be reached never fails a trial.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TrialStart:
    """What a tracker knows when a trial starts."""

    study: str
    number: int
    params: Mapping[str, Any]  # the sampled values, by stable name (backbone.lr, schedule.head.shape, ...)
    attrs: Mapping[str, Any]  # seed, epochs, lr.<group> (resolved)
    objective: str
    direction: str


class TrialRun(ABC):
    """One trial as a tracker run."""

    @abstractmethod
    def log_epoch(self, epoch: int, step: int, metrics: Mapping[str, float], groups: list[dict[str, Any]]) -> None:
        """Epoch ``epoch`` (from 1): its metrics and the effective values of every group (``group_values`` rows)."""

    @abstractmethod
    def end(self, state: str, value: float | None, reason: str | None) -> None:
        """The trial ended: ``COMPLETE`` (with its value), ``PRUNED`` or ``FAIL`` (with the fail reason)."""


class Tracker(ABC):
    """An experiment tracker for one study, in one process (a worker runs many trials through it)."""

    @abstractmethod
    def start_trial(self, start: TrialStart) -> TrialRun: ...

    def close(self) -> None:  # noqa: B027 - most trackers have nothing to close
        """The process is done with the study."""


@dataclass(frozen=True)
class TrackerEntry:
    """A registered tracker: its factory (``factory(study=..., **options)``), the extra that installs what it
    needs, and a function making its path options absolute (relative to the study file)."""

    name: str
    factory: Callable[..., Tracker]
    description: str
    extra: str
    options: Mapping[str, str]  # option -> one line of documentation
    resolve: Callable[[dict[str, Any], Path], dict[str, Any]] = lambda options, base: options
    module: str = ""  # the package it imports, to say whether it is installed here

    def installed(self) -> bool:
        import importlib.util

        return not self.module or importlib.util.find_spec(self.module) is not None

    def describe(self) -> str:
        """``mlflow`` or ``mlflow (not installed here: pip install 'lrsearch[mlflow]')``, for ``validate``."""
        return self.name if self.installed() else f"{self.name} (not installed here: pip install 'lrsearch[{self.extra}]')"

    def check(self, options: Mapping[str, Any]) -> list[str]:
        """Problems with ``options``, one message each."""
        unknown = sorted(set(options) - set(self.options))
        return [f"tracker {self.name!r} has no option {k!r}; options: {', '.join(self.options)}" for k in unknown]


_TRACKERS: dict[str, TrackerEntry] = {}


def register_tracker(entry: TrackerEntry) -> TrackerEntry:
    """Make ``entry`` usable as ``trackers: [{name: <entry.name>, options: {...}}]``.

    Raises:
        ValueError: The name is taken, or the documented options differ from the factory's keywords.
    """
    if entry.name in _TRACKERS:
        raise ValueError(f"tracker {entry.name!r} is already registered")
    params = {p.name for p in inspect.signature(entry.factory).parameters.values()
              if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)} - {"study"}
    if params != set(entry.options):
        raise ValueError(f"tracker {entry.name!r}: options documented {sorted(entry.options)} differ from the "
                         f"factory's {sorted(params)}")
    _TRACKERS[entry.name] = entry
    return entry


def tracker_names() -> list[str]:
    return sorted(_TRACKERS)


def get_tracker(name: str) -> TrackerEntry | None:
    return _TRACKERS.get(name)
