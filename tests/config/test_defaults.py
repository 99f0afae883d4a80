"""What a silent spec gets: the measured best search (schedule-free AdamW, multivariate TPE with 4 start-up
trials, successive halving) where lrsearch runs the training, and the previous defaults where they still fit."""

from __future__ import annotations

from typing import Any

import pytest

from lrsearch.config import parse_spec

pytest.importorskip("schedulefree")


def silent(**extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "s", "budget": {"trials": 4, "epochs": 3}, "task": {"builtin": "digits"},
        "groups": [{"name": "all", "rest": True, "lr": {"low": 1e-3, "high": 0.1, "log": True}}],
    }
    spec.update(extra)
    return spec


def test_a_silent_managed_study_gets_the_measured_best_search() -> None:
    spec = parse_spec(silent())
    ((_, block),) = spec.blocks()
    assert block.name.value == "adamw_schedulefree"
    assert (spec.sampler.name, spec.sampler.options) == ("tpe", {"multivariate": True, "n_startup_trials": 4})
    assert (spec.pruner.name, spec.pruner.options) == ("successive_halving", {"min_resource": 1, "reduction_factor": 3})
    assert spec.search.recipes == "auto"
    stored = spec.model_dump(mode="json")  # what the study stores: explicit, so resumes and workers agree
    assert stored["optimizer"]["name"]["value"] == "adamw_schedulefree"
    assert stored["pruner"]["name"] == "successive_halving"


def test_an_own_loop_keeps_adamw_and_the_median_pruner() -> None:
    # lrsearch cannot see whether an own loop switches a schedule-free optimizer's modes
    spec = parse_spec(silent(task={"train": "mypkg.train:fit"}))
    ((_, block),) = spec.blocks()
    assert block.name.value == "adamw"
    assert spec.pruner.name == "median"


@pytest.mark.parametrize("extra", [
    {"schedule": {"shape": "cosine"}},
    {"schedule": {"shape": ["constant", "cosine"]}},
    {"optimizer": {"name": {"choices": ["adamw_schedulefree", "adamw"]}}},
    {"optimizer": {"name": "sgd"}},
])
def test_a_decaying_schedule_or_a_horizon_bound_optimizer_keeps_the_median_pruner(extra: dict[str, Any]) -> None:
    # measured: successive halving judged after one epoch hurt a cosine schedule on the transformer task
    assert parse_spec(silent(**extra)).pruner.name == "median"


def test_what_the_spec_says_is_kept() -> None:
    spec = parse_spec(silent(optimizer={"name": "sgd_schedulefree"}, sampler={"name": "tpe", "seed": 3, "options": {}},
                             pruner={"name": "hyperband"}))
    ((_, block),) = spec.blocks()
    assert block.name.value == "sgd_schedulefree"
    assert (spec.sampler.seed, spec.sampler.options) == (3, {})
    assert spec.pruner.name == "hyperband"
    assert parse_spec(silent(sampler={"name": "random"})).sampler.options == {}
    # options without a name are the median pruner's, as before
    assert parse_spec(silent(pruner={"options": {"n_warmup_steps": 2}})).pruner.name == "median"


def test_a_silent_optimizer_of_several_named_ones_is_schedule_free_too() -> None:
    group = {"name": "g", "rest": True, "lr": 1e-3}
    spec = parse_spec({**silent(), "groups": None,
                       "optimizers": {"gen": {"groups": [group]}, "disc": {"name": "adam", "groups": [{**group, "name": "d"}]}}})
    names = {key: block.name.value for key, block in spec.blocks()}
    assert names == {"gen": "adamw_schedulefree", "disc": "adam"}
    assert spec.pruner.name == "median"  # adam is not horizon-free
