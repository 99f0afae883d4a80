"""The staged strategy: stage 1 searches the single-lr space, stage 2 the per-group dimensions around stage 1's best.

Everything is decided from what the study's storage holds, inside the budget lock that every process takes
before it asks for a trial, so workers on several machines agree on the stage, a resumed study picks up where
it stopped, and stage 2 starts from the best stage-1 trial whichever process ran it. Each trial records
``stage`` (1 or 2) as a user attribute; stage-2 trials also record ``stage1_best`` (the trial they fixed their
shared values from).
"""

from __future__ import annotations

import warnings
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

from lrsearch.config import StudySpec
from lrsearch.search._nesting import clip, nesting
from lrsearch.space import SearchSpace
from lrsearch.storage.optuna_adapter import storage_of, study_id, trial_id

STAGE_ATTR = "stage"
STAGE1_BEST_ATTR = "stage1_best"


def _epochs_of(trial: FrozenTrial, epochs: int) -> int:
    if trial.state in (TrialState.RUNNING, TrialState.WAITING):
        return epochs
    return len(trial.intermediate_values) or (epochs if trial.state == TrialState.COMPLETE else 0)


def stage1_best(trials: list[FrozenTrial], maximize: bool) -> FrozenTrial | None:
    done = [t for t in trials if t.user_attrs.get(STAGE_ATTR) == 1 and t.state == TrialState.COMPLETE
            and t.value is not None]
    if not done:
        return None
    return max(done, key=lambda t: t.value) if maximize else min(done, key=lambda t: t.value)  # type: ignore[arg-type, return-value]


def next_stage(spec: StudySpec, trials: list[FrozenTrial], exclude: int | None = None) -> int:
    """The stage a new trial belongs to: 1 while stage 1 has used less than its share of the budget (see
    :class:`lrsearch.config.SearchStrategySpec`; running trials count at full length), or while no stage-1 trial
    has completed; else 2."""
    epochs = spec.budget.epochs
    mine = [t for t in trials if t.user_attrs.get(STAGE_ATTR) == 1 and t.number != exclude
            and t.state != TrialState.FAIL]
    used = sum(_epochs_of(t, epochs) for t in mine)
    if spec.search.stage1_epochs is not None:
        in_stage1 = used < spec.search.stage1_epochs
    else:
        trials_budget = spec.budget.trials or 0
        in_stage1 = used < spec.search.stage1 * trials_budget * epochs and len(mine) < spec.search.stage1 * trials_budget
    if in_stage1:
        return 1
    maximize = spec.objective.direction == "maximize"
    return 2 if stage1_best(trials, maximize) is not None else 1


class StagedSampler(BaseSampler):
    """Wraps the study's sampler: holds the per-group dimensions at the single-lr point in stage 1, and every
    other dimension at the best stage-1 trial's values in stage 2 (the wrapped sampler searches the rest and
    learns from every trial of the study, as :class:`optuna.samplers.PartialFixedSampler` does)."""

    def __init__(self, base: BaseSampler, spec: StudySpec) -> None:
        self._base = base
        self._spec = spec
        self._nesting = nesting(spec)
        self._dims = {d.name: d for d in SearchSpace(spec).dimensions()}
        self._fixed: dict[int, dict[str, Any]] = {}  # trial number -> values held fixed (stage 2)
        self._stage: dict[int, int] = {}

    # -- the stage of each trial ----------------------------------------------------------------------------

    def _plan(self, study: optuna.Study, trial: FrozenTrial) -> int:
        if trial.number in self._stage:
            return self._stage[trial.number]
        storage = storage_of(study)
        stage = trial.user_attrs.get(STAGE_ATTR)
        trials = storage.get_all_trials(study_id(study), deepcopy=False)
        if stage is None:
            stage = next_stage(self._spec, trials, exclude=trial.number)
            storage.set_trial_user_attr(trial_id(trial), STAGE_ATTR, stage)
        fixed: dict[str, Any] = {}
        if stage == 2:
            best = stage1_best(trials, self._spec.objective.direction == "maximize")
            if best is not None:
                fixed = {k: v for k, v in best.params.items() if k not in self._nesting.point}
                if STAGE1_BEST_ATTR not in trial.user_attrs:
                    storage.set_trial_user_attr(trial_id(trial), STAGE1_BEST_ATTR, best.number)
        self._stage[trial.number] = int(stage)
        self._fixed[trial.number] = fixed
        return int(stage)

    def _held(self, trial: FrozenTrial) -> set[str]:
        if self._stage.get(trial.number) == 1:
            return set(self._nesting.point)
        return set(self._fixed.get(trial.number, {}))

    # -- BaseSampler ----------------------------------------------------------------------------------------

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._base.before_trial(study, trial)
        self._plan(study, trial)

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        self._plan(study, trial)
        space = self._base.infer_relative_search_space(study, trial)
        held = self._held(trial)
        return {k: v for k, v in space.items() if k not in held}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return self._base.sample_relative(study, trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        stage = self._plan(study, trial)
        if stage == 1 and param_name in self._nesting.point:
            value = self._nesting.value(param_name, trial.params)
            if value is not None:
                return clip(self._dims[param_name], value) if param_name in self._dims else value
        fixed = self._fixed.get(trial.number, {})
        if stage == 2 and param_name in fixed:
            value = fixed[param_name]
            if param_distribution._contains(param_distribution.to_internal_repr(value)):
                return value
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return self._base.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Any) -> None:
        self._base.after_trial(study, trial, state, values)
        self._stage.pop(trial.number, None)
        self._fixed.pop(trial.number, None)

    def reseed_rng(self) -> None:
        self._base.reseed_rng()
