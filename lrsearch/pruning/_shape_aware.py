"""Pruning that compares a trial only with trials of the same schedule shape(s).

Optuna's pruners judge a trial by its intermediate value *at the same step* as other trials. Across schedule
shapes that is unfair: one-cycle spends its first epochs warming up and then at its peak lr, cyclic and warm
restarts oscillate, warmup starts low; each looks worse early than it ends, while a constant or cosine schedule
looks good early. A plain pruner therefore stops the slow starters before they can show their final value.

:class:`ShapeAwarePruner` wraps any Optuna pruner and runs it against a *view* of the study that holds only the
trials whose shape parameters (``schedule.shape``, ``schedule.<group>.shape``, ...) equal the current trial's.
The view is a real :class:`optuna.Study` over a filtering storage proxy, so every pruner works unchanged,
including Hyperband, whose bracket studies are rebuilt from the study's storage (a filtered ``get_trials`` alone
would be bypassed there), and successive halving, which writes rung values through the study's storage.
Everything except reading trials passes through to the real storage.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.pruners import BasePruner
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from lrsearch.storage.optuna_adapter import storage_of, trial_id

ShapeKey = tuple[Any, ...]


def shape_param_names(space: Any) -> list[str]:
    """The searched shape dimensions of a :class:`~lrsearch.space.SearchSpace`, e.g. ``schedule.head.shape``.

    A shape that is fixed in the spec is not a dimension: every trial shares it, so it splits nothing.
    """
    return [d.name for d in space.dimensions() if d.name.startswith("schedule.") and d.name.endswith(".shape")]


class ShapeAwarePruner(BasePruner):
    """Run ``wrapped``'s decision against only the trials with the same schedule shapes as the one judged.

    Args:
        wrapped: Any Optuna pruner (median, percentile, successive halving, Hyperband, patient, Wilcoxon ...).
        space: The study's :class:`~lrsearch.space.SearchSpace` (its shape dimensions define the strata), or
            the parameter names to stratify by, given directly.

    With no searched shape the wrapper is transparent. Hyperband keeps its bracket assignment (it depends only
    on the study name and trial number); within a bracket, successive halving ranks a trial among same-shape
    trials, so the first trial of each shape in a rung is promoted.
    """

    def __init__(self, wrapped: BasePruner, space: Any) -> None:
        if not isinstance(wrapped, BasePruner):
            raise TypeError(f"wrapped must be an Optuna pruner, got {type(wrapped).__name__}")
        self._wrapped = wrapped
        self._keys = list(space) if isinstance(space, (list, tuple)) else shape_param_names(space)

    @property
    def wrapped(self) -> BasePruner:
        return self._wrapped

    @property
    def keys(self) -> list[str]:
        """The parameters whose values must match for two trials to be compared."""
        return list(self._keys)

    def shape_key(self, trial: FrozenTrial) -> ShapeKey:
        return tuple(trial.params.get(name) for name in self._keys)

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        if not self._keys:
            return self._wrapped.prune(study, trial)
        key = self.shape_key(trial)
        view = optuna.Study(
            study_name=study.study_name,
            storage=_FilteredStorage(storage_of(study), lambda t: self.shape_key(t) == key),  # type: ignore[arg-type]
            sampler=study.sampler,
            pruner=self._wrapped,
        )
        return self._wrapped.prune(view, trial)

    def __repr__(self) -> str:
        return f"ShapeAwarePruner({type(self._wrapped).__name__}, keys={self._keys})"


class _FilteredStorage:
    """A storage proxy whose trial reads return only the trials ``keep`` accepts; writes pass through.

    Not a :class:`~optuna.storages.BaseStorage` subclass on purpose: subclassing would force re-implementing
    every abstract method, and a method added by a later Optuna would silently miss the delegation.
    ``optuna.storages.get_storage`` returns non-RDB objects as they are.
    """

    def __init__(self, storage: Any, keep: Callable[[FrozenTrial], bool]) -> None:
        self._inner = storage
        self._keep = keep

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Sequence[TrialState] | None = None) -> list[FrozenTrial]:
        trials = self._inner.get_all_trials(study_id, deepcopy=deepcopy, states=states)
        return [t for t in trials if self._keep(t)]

    def get_n_trials(self, study_id: int, state: tuple[TrialState, ...] | TrialState | None = None) -> int:
        states = (state,) if isinstance(state, TrialState) else state
        return len(self.get_all_trials(study_id, deepcopy=False, states=states))

    def get_best_trial(self, study_id: int) -> FrozenTrial:
        complete = [t for t in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.COMPLETE,))
                    if t.value is not None and not math.isnan(t.value)]
        if not complete:
            raise ValueError("No trials are completed yet.")
        maximize = self._inner.get_study_directions(study_id)[0] == StudyDirection.MAXIMIZE
        best = max(complete, key=lambda t: t.value) if maximize else min(complete, key=lambda t: t.value)
        return self._inner.get_trial(trial_id(best))
