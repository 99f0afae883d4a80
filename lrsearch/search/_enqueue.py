"""Queueing a study's recipes: once per study, whichever process opens it first, never again on resume.

The queue step runs under the study's budget lock (a file lock beside SQLite, an advisory lock on PostgreSQL)
and leaves a study user attribute behind, so several workers opening a fresh study at once queue one copy.
Under the staged strategy the stage-2 recipes are queued when stage 2 begins, with the shared dimensions set
to the best stage-1 trial's values.
"""

from __future__ import annotations

import warnings
from typing import Any

import optuna

from lrsearch.search._nesting import nesting
from lrsearch.search._recipes import resolve_recipes
from lrsearch.search._staged import STAGE1_BEST_ATTR, STAGE_ATTR, next_stage, stage1_best

RECIPE_ATTR = "recipe"
QUEUED_ATTR = "lrsearch:recipes_queued"
STAGE2_QUEUED_ATTR = "lrsearch:stage2_recipes_queued"


def _enqueue(study: optuna.Study, params: dict[str, Any], attrs: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.enqueue_trial(params, user_attrs=attrs)


def queue_recipes(handle: Any) -> list[str]:
    """Queue the study's first recipes unless some process already did; the names queued now."""
    spec, study = handle.spec, handle.study
    with handle.budget_lock():
        if QUEUED_ATTR in study.user_attrs:
            return []
        staged = spec.search.strategy == "staged"
        queued = []
        for recipe in resolve_recipes(spec, handle.space):
            if staged and recipe.stage != 1:
                continue
            attrs: dict[str, Any] = {RECIPE_ATTR: recipe.name}
            if staged:
                attrs[STAGE_ATTR] = 1
            _enqueue(study, recipe.params, attrs)
            queued.append(recipe.name)
        study.set_user_attr(QUEUED_ATTR, queued)
    return queued


def queue_stage2_recipes(handle: Any) -> list[str]:
    """Under the staged strategy, once stage 2 is due: queue the per-group recipes around stage 1's best.

    Called with the budget lock held, just before a trial is asked for.
    """
    spec, study = handle.spec, handle.study
    if spec.search.strategy != "staged" or STAGE2_QUEUED_ATTR in study.user_attrs:
        return []
    trials = study.get_trials(deepcopy=False)
    if next_stage(spec, trials) != 2:
        return []
    best = stage1_best(trials, spec.objective.direction == "maximize")
    assert best is not None  # next_stage says 2 only once a stage-1 trial completed
    per_group = set(nesting(spec).point)
    queued = []
    for recipe in resolve_recipes(spec, handle.space):
        if recipe.stage != 2:
            continue
        params = {**recipe.params, **{k: v for k, v in best.params.items() if k not in per_group}}
        _enqueue(study, params, {RECIPE_ATTR: recipe.name, STAGE_ATTR: 2, STAGE1_BEST_ATTR: best.number})
        queued.append(recipe.name)
    study.set_user_attr(STAGE2_QUEUED_ATTR, queued)
    return queued
