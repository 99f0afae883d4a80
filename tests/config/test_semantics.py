"""Checks that need a registry or span several fields: names, capabilities, ratio_of, shape parameters."""

from __future__ import annotations

import pytest

from lrsearch.config import PRUNERS, SAMPLERS, parse_spec
from lrsearch.optim import get_optimizer_info, optimizer_names
from lrsearch.schedules import get_shape, shape_names
from lrsearch.tasks import builtin_task_names
from tests.config.builders import BASE, problem_at, problems, spec_data

HEAD, BACKBONE = BASE["groups"]


def with_groups(*groups: dict, **top: object) -> dict:
    return spec_data(groups=list(groups), **top)


@pytest.mark.parametrize(
    ("data", "path", "kind", "given", "suggestion", "known"),
    [
        (spec_data(sampler={"name": "random_"}), "sampler.name", "sampler", "random_", "random", list(SAMPLERS)),
        (spec_data(pruner={"name": "medain"}), "pruner.name", "pruner", "medain", "median", list(PRUNERS)),
        (spec_data(optimizer={"name": "adamm"}), "optimizer.name", "optimizer", "adamm", "adam", optimizer_names()),
        (spec_data(schedule={"shape": "cosin"}), "schedule.shape", "shape", "cosin", "cosine", shape_names()),
        (spec_data(schedule={"shape": ["cosine", "onecyle"]}), "schedule.shape", "shape", "onecyle", "onecycle",
         shape_names()),
        (spec_data(task={"builtin": "digit"}), "task.builtin", "task", "digit", "digits", builtin_task_names()),
    ],
    ids=["sampler", "pruner", "optimizer", "shape", "shape-choice", "task"],
)
def test_unknown_names_list_the_known_ones(
    data: dict, path: str, kind: str, given: str, suggestion: str, known: list[str]
) -> None:
    tail = "; or an import path such as 'lion_pytorch:Lion'" if kind == "optimizer" else ""
    assert problem_at(data, path) == (
        f"unknown {kind} {given!r}; did you mean {suggestion!r}? known: {', '.join(known)}{tail}"
    )


def test_momentum_for_an_optimizer_without_it() -> None:
    data = with_groups({**HEAD, "momentum": 0.9}, BACKBONE, optimizer={"name": "adamw"})
    assert problem_at(data, "groups[0].momentum") == (
        "none of the optimizers (adamw) has momentum; use beta1 for Adam-type optimizers, or add sgd/rmsprop"
    )


def test_betas_for_an_optimizer_without_them() -> None:
    data = with_groups({**HEAD, "beta1": {"low": 0.8, "high": 0.95}}, BACKBONE, optimizer={"name": "sgd"})
    assert "none of the optimizers (sgd) has betas" in problem_at(data, "groups[0].beta1")


def test_momentum_and_betas_are_fine_when_some_choice_takes_them() -> None:
    data = with_groups({**HEAD, "momentum": {"low": 0.8, "high": 0.99}, "beta1": 0.9}, BACKBONE,
                       optimizer={"name": ["sgd", "adamw"]})
    assert problems(data) == []


def test_optimizer_options_are_checked_against_the_registry() -> None:
    data = spec_data(optimizer={"name": "sgd", "options": {"nesterov": True, "lr": 0.1, "amsgrad": True}})
    found = problems(data)
    assert ("optimizer.options", "'lr' is set per group (optimizer.groups[].lr), not in options") in found
    assert any(p == "optimizer.options" and "no option 'amsgrad'" in m for p, m in found)
    assert len(found) == 2


def test_optimizer_name_cannot_be_a_range() -> None:
    assert "not a range" in problem_at(spec_data(optimizer={"name": {"low": 1, "high": 2}}), "optimizer.name")


def test_ratio_of_a_missing_group() -> None:
    data = with_groups(HEAD, {**BACKBONE, "lr": {"ratio_of": "haed", "low": 0.1, "high": 1}})
    assert problem_at(data, "groups[1].lr.ratio_of") == "no group named 'haed'; groups: head, backbone"


def test_ratio_of_cycle_is_reported_once() -> None:
    data = with_groups(
        {"name": "a", "params": ["x.*"], "lr": {"ratio_of": "b", "value": 0.5}},
        {"name": "b", "params": ["y.*"], "lr": {"ratio_of": "c", "value": 0.5}},
        {"name": "c", "params": ["z.*"], "lr": {"ratio_of": "a", "value": 0.5}},
        {"name": "d", "rest": True, "lr": {"ratio_of": "b", "value": 0.5}},  # leads into the cycle
    )
    assert problems(data) == [
        ("groups[0].lr.ratio_of", "ratio_of forms a cycle: a -> b -> c -> a; one group of the cycle needs an "
         "absolute lr"),
    ]


def test_ratio_of_self() -> None:
    data = with_groups({"name": "a", "rest": True, "lr": {"ratio_of": "a", "value": 0.5}})
    assert "a -> a" in problem_at(data, "groups[0].lr.ratio_of")


def test_ratio_of_across_named_optimizers_is_allowed() -> None:
    data = spec_data(groups=None, optimizers={
        "generator": {"groups": [{"name": "gen", "rest": True, "lr": {"low": 1e-4, "high": 1e-2, "log": True}}]},
        "discriminator": {"groups": [{"name": "disc", "rest": True, "lr": {"ratio_of": "gen", "low": 0.5, "high": 4}}]},
    })
    assert problems(data) == []


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        (with_groups(HEAD, {**BACKBONE, "name": "head"}), "groups[1].name",
         "group name 'head' is used twice (groups[0] and groups[1])"),
        (with_groups({**HEAD, "params": None, "rest": True}, BACKBONE), "groups", "all have rest: true; at most one group per optimizer may"),
        (with_groups(HEAD, {**BACKBONE, "freeze_epochs": 3}), "groups[1].freeze_epochs",
         "must be >= 0 and <= 2, got 3 (a group must train for at least one of the 3 epochs)"),
        (with_groups(HEAD, {**BACKBONE, "freeze_epochs": {"low": 0, "high": 2, "step": 0.5}}),
         "groups[1].freeze_epochs", "step must be a whole number, got 0.5"),
        (with_groups({**HEAD, "params": ["re:head.(weight"]}, BACKBONE), "groups[0].params", "invalid regex"),
        (with_groups({**HEAD, "params": None, "layerwise": {"pattern": "layers", "decay": 0.8}}, BACKBONE),
         "groups[0].layerwise.pattern", "needs one capture group"),
        (with_groups({**HEAD, "params": None, "layerwise": {"pattern": r"layers\.(\d+)", "decay": 1.5}}, BACKBONE),
         "groups[0].layerwise.decay", "must be > 0 and <= 1, got 1.5"),
        (with_groups({**HEAD, "weight_decay": -0.1}, BACKBONE), "groups[0].weight_decay", "must be >= 0, got -0.1"),
        (with_groups({**HEAD, "momentum": 1.0}, BACKBONE, optimizer={"name": "sgd"}), "groups[0].momentum",
         "must be >= 0 and < 1, got 1.0"),
        (with_groups({**HEAD, "lr": 0}, BACKBONE), "groups[0].lr", "must be > 0, got 0"),
        (with_groups({**HEAD, "lr": {"choices": [0.1, "fast"]}}, BACKBONE), "groups[0].lr",
         "must be a number, got 'fast'"),
        (spec_data(schedule={"warmup": 1.5}), "schedule.warmup",
         "must be >= 0 and < 1, got 1.5 (warmup is a fraction of the run)"),
        (spec_data(schedule={"shape": {"low": 1, "high": 2}}), "schedule.shape", "not a range"),
        (spec_data(schedule={"shape": "cosine", "params": {"onecycle": {"pct_start": 0.3}}}),
         "schedule.params.onecycle", "parameters for 'onecycle', which is not among the shapes (cosine)"),
        (spec_data(schedule={"shape": "onecycle", "params": {"onecycle": {"pct_strat": 0.3}}}),
         "schedule.params.onecycle.pct_strat", "onecycle has no parameter 'pct_strat'; it has: pct_start"),
        (spec_data(schedule={"shape": "onecycle", "params": {"onecycle": {"pct_start": {"low": 0.1, "high": 1.5}}}}),
         "schedule.params.onecycle.pct_start", "got 1.5"),
        (spec_data(sampler={"name": "tpe", "options": {"seed": 3}}), "sampler.options.seed",
         "seed goes in sampler.seed"),
        (spec_data(pruner={"name": "median", "options": {"n_warmup": 3}}), "pruner.options.n_warmup",
         "not an option of median"),
        (spec_data(pruner={"name": "wilcoxon"}), "pruner.name", "unknown pruner 'wilcoxon'; known: median, percentile"),
        (spec_data(task={"builtin": "digits", "options": {"widht": 8}}), "task.options.widht",
         "task 'digits' has no option 'widht'; options: width, split_seed"),
    ],
)
def test_cross_field_problems(data: dict, path: str, message: str) -> None:
    assert message in problem_at(data, path)


def test_named_optimizers_reject_top_level_groups() -> None:
    data = spec_data(optimizers={"gen": {"groups": [{"name": "g", "rest": True, "lr": 0.1}]}})
    assert "put groups inside each named optimizer" in problem_at(data, "")


def test_named_optimizer_paths() -> None:
    data = spec_data(groups=None, optimizers={
        "generator": {"name": "adamw", "groups": [{"name": "gen", "rest": True, "lr": 0.1, "momentum": 0.9}]},
        "discriminator": {"name": "sgdd", "groups": [{"name": "disc", "rest": True, "lr": 0.1}],
                          "schedule": {"shape": "cosin"}},
    })
    paths = [p for p, _ in problems(data)]
    assert paths == ["optimizers.generator.groups[0].momentum", "optimizers.discriminator.name",
                     "optimizers.discriminator.schedule.shape"]


@pytest.mark.parametrize("name", optimizer_names())
def test_every_optimizer_validates_with_the_settings_it_has(name: str) -> None:
    info = get_optimizer_info(name)
    head = {**HEAD}
    if info.has_momentum:
        head["momentum"] = {"low": 0.8, "high": 0.99}
    if info.has_betas:
        head["beta1"] = {"low": 0.8, "high": 0.95}
    assert problems(with_groups(head, BACKBONE, optimizer={"name": name})) == []


def searchable_params(shape: str) -> dict[str, dict]:
    """Each searchable parameter of ``shape`` as the range or choices its registry entry suggests."""
    out = {}
    for pname, param in get_shape(shape).params.items():
        if param.choices is not None:
            out[pname] = {"choices": list(param.choices)}
        elif param.low is not None:
            out[pname] = {"low": param.low, "high": param.high, "log": param.log}
    return out


@pytest.mark.parametrize("shape", shape_names())
def test_every_shape_validates_with_its_suggested_search_space(shape: str) -> None:
    spec = parse_spec(spec_data(schedule={"shape": shape, "params": {shape: searchable_params(shape)}}))
    assert spec.schedule.shape.fixed_value() == shape
