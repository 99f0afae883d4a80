"""Spec -> named Optuna dimensions -> TrialConfig: names, conditions, determinism, resolution, replay."""

from __future__ import annotations

import json
import math
from typing import Any

import optuna
import pytest

from lrsearch.config import StudySpec, build_sampler
from lrsearch.optim import get_optimizer_info
from lrsearch.space import SearchSpace, TrialConfig
from tests.config.builders import BASE, parse, spec_data

HEAD, BACKBONE = BASE["groups"]
SHAPE_PARAMS = {
    "onecycle": {"pct_start": {"low": 0.1, "high": 0.5}},
    "wsd": {"decay_fraction": {"low": 0.05, "high": 0.5}, "decay_type": {"choices": ["linear", "1-sqrt"]}},
    "cosine": {"min_ratio": {"low": 0.0, "high": 0.1}},
}


def conditional_spec(per_group: bool) -> StudySpec:
    """Every kind of condition: momentum (sgd, rmsprop), betas (adamw) and shape parameters."""
    return parse(spec_data(
        optimizer={"name": ["sgd", "adamw", "rmsprop"]},
        groups=[
            {**HEAD, "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True}, "momentum": {"low": 0.8, "high": 0.99},
             "beta1": {"low": 0.8, "high": 0.95}},
            {**BACKBONE, "momentum": {"low": 0.5, "high": 0.9}, "freeze_epochs": {"low": 0, "high": 2}},
        ],
        schedule={"per_group": per_group, "shape": ["constant", "cosine", "onecycle", "wsd"],
                  "warmup": {"low": 0.0, "high": 0.2}, "params": SHAPE_PARAMS},
    ))


def run_trials(spec: StudySpec, sampler: str, n: int, seed: int = 0) -> tuple[optuna.Study, list[TrialConfig]]:
    """``n`` trials on an in-memory study; the objective is a fixed function of the params so TPE has signal."""
    space = SearchSpace(spec)
    study = optuna.create_study(sampler=build_sampler(sampler, seed, {}, conditional=space.is_conditional()))
    configs = []
    for _ in range(n):
        trial = study.ask()
        config = space.sample(trial)
        configs.append(config)
        study.tell(trial, sum(math.log(g.lr) + g.weight_decay for g in config.groups()))
    return study, configs


@pytest.fixture(autouse=True)
def _quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def names(spec: StudySpec) -> list[str]:
    return [d.name for d in SearchSpace(spec).dimensions()]


# -- names and conditions ---------------------------------------------------------------------------------------


def test_per_group_schedule_names() -> None:
    dims = {d.name: d for d in SearchSpace(conditional_spec(per_group=True)).dimensions()}
    assert list(dims) == [
        "opt.name",
        "head.lr", "head.momentum", "head.beta1", "head.weight_decay",
        "schedule.head.shape",
        "schedule.head.cosine.min_ratio", "schedule.head.onecycle.pct_start",
        "schedule.head.wsd.decay_fraction", "schedule.head.wsd.decay_type", "schedule.head.warmup",
        "backbone.lr_ratio", "backbone.momentum", "backbone.freeze_epochs",
        "schedule.backbone.shape",
        "schedule.backbone.cosine.min_ratio", "schedule.backbone.onecycle.pct_start",
        "schedule.backbone.wsd.decay_fraction", "schedule.backbone.wsd.decay_type", "schedule.backbone.warmup",
    ]
    assert dims["head.momentum"].condition == "opt.name in {sgd, rmsprop}"
    assert dims["head.beta1"].condition == "opt.name == adamw"
    assert dims["schedule.backbone.onecycle.pct_start"].condition == "schedule.backbone.shape == onecycle"
    assert dims["schedule.head.wsd.decay_type"].condition == "schedule.head.shape == wsd"
    always = [n for n, d in dims.items() if d.condition is None]
    assert always == ["opt.name", "head.lr", "head.weight_decay", "schedule.head.shape", "schedule.head.warmup",
                      "backbone.lr_ratio", "backbone.freeze_epochs", "schedule.backbone.shape",
                      "schedule.backbone.warmup"]
    assert isinstance(dims["backbone.freeze_epochs"].distribution, optuna.distributions.IntDistribution)
    assert dims["head.lr"].describe() == "float log [0.001, 0.3]"
    assert dims["schedule.head.shape"].describe() == "categorical {constant, cosine, onecycle, wsd}"


def test_shared_schedule_names() -> None:
    shared = names(conditional_spec(per_group=False))
    assert "schedule.shape" in shared and "schedule.onecycle.pct_start" in shared and "schedule.warmup" in shared
    assert not any(n.startswith(("schedule.head.", "schedule.backbone.")) for n in shared)


def test_a_group_schedule_overrides_the_shared_one() -> None:
    spec = parse(spec_data(
        schedule={"shape": ["cosine", "wsd"]},
        groups=[{**HEAD, "schedule": {"shape": ["constant", "onecycle"],
                                      "params": {"onecycle": SHAPE_PARAMS["onecycle"]}}},
                BACKBONE],
    ))
    assert names(spec) == ["schedule.shape", "head.lr", "schedule.head.shape", "schedule.head.onecycle.pct_start",
                           "backbone.lr_ratio"]
    config = SearchSpace(spec).config_from_params(
        {"schedule.shape": "wsd", "head.lr": 0.01, "schedule.head.shape": "onecycle",
         "schedule.head.onecycle.pct_start": 0.2, "backbone.lr_ratio": 0.5})
    head, backbone = config.groups()
    assert (head.schedule.shape, head.schedule.params["pct_start"]) == ("onecycle", 0.2)
    assert (backbone.schedule.shape, backbone.schedule.params["decay_type"]) == ("wsd", "1-sqrt")


def test_fixed_settings_are_not_dimensions() -> None:
    spec = parse(spec_data(optimizer={"name": ["sgd"]},
                           schedule={"shape": ["cosine"], "params": {"cosine": SHAPE_PARAMS["cosine"]}},
                           groups=[{"name": "all", "rest": True, "lr": {"low": 0.1, "high": 0.1}, "momentum": 0.9}]))
    assert [(d.name, d.condition) for d in SearchSpace(spec).dimensions()] == [("schedule.cosine.min_ratio", None)]
    config = SearchSpace(spec).config_from_params({"schedule.cosine.min_ratio": 0.05})
    assert (config.groups()[0].lr, config.groups()[0].momentum, config.optimizers[0].name) == (0.1, 0.9, "sgd")


def test_named_optimizers() -> None:
    spec = parse(spec_data(groups=None, optimizers={
        "generator": {"name": ["adam", "sgd"], "schedule": {"shape": ["cosine", "constant"]},
                      "groups": [{"name": "gen", "rest": True, "lr": {"low": 1e-4, "high": 1e-2, "log": True},
                                  "momentum": {"low": 0.5, "high": 0.9}}]},
        "discriminator": {"name": "adamw", "schedule": {"shape": ["cosine", "constant"], "per_group": True},
                          "groups": [{"name": "disc", "rest": True, "lr": {"ratio_of": "gen", "low": 0.5, "high": 4},
                                      "beta1": {"low": 0.0, "high": 0.9}}]},
    }))
    dims = {d.name: d.condition for d in SearchSpace(spec).dimensions()}
    assert dims == {
        "opt.generator.name": None,
        "schedule.generator.shape": None,
        "gen.lr": None,
        "gen.momentum": "opt.generator.name == sgd",
        "disc.lr_ratio": None,
        "disc.beta1": None,
        "schedule.disc.shape": None,
    }
    _, [config] = run_trials(spec, "random", 1)
    assert [o.key for o in config.optimizers] == ["generator", "discriminator"]
    assert config.optimizer("discriminator").name == "adamw"
    disc, gen = config.optimizer("discriminator").groups[0], config.optimizer("generator").groups[0]
    assert disc.lr == pytest.approx(gen.lr * config.params["disc.lr_ratio"])
    with pytest.raises(KeyError, match="known: generator, discriminator"):
        config.optimizer("main")


# -- sampling ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sampler", ["tpe", "random"])
@pytest.mark.parametrize("per_group", [True, False], ids=["per-group", "shared"])
def test_inactive_conditional_parameters_are_never_sampled(sampler: str, per_group: bool) -> None:
    spec = conditional_spec(per_group)
    dims = {d.name: d for d in SearchSpace(spec).dimensions()}
    study, configs = run_trials(spec, sampler, 30)
    prefixes = ["schedule.head", "schedule.backbone"] if per_group else ["schedule"]
    seen_opts, seen_shapes = set(), set()
    for trial, config in zip(study.trials, configs, strict=True):
        params = trial.params
        assert params == config.params
        assert set(params) <= set(dims)
        for name, dist in trial.distributions.items():
            assert dist == dims[name].distribution, name
        opt = params["opt.name"]
        seen_opts.add(opt)
        info = get_optimizer_info(opt)
        assert ("head.momentum" in params) is info.has_momentum
        assert ("backbone.momentum" in params) is info.has_momentum
        assert ("head.beta1" in params) is info.has_betas
        for prefix in prefixes:
            chosen = params[f"{prefix}.shape"]
            seen_shapes.add(chosen)
            for shape, shape_params in SHAPE_PARAMS.items():
                for pname in shape_params:
                    assert (f"{prefix}.{shape}.{pname}" in params) is (shape == chosen), (prefix, chosen, pname)
        for group in config.groups():
            assert (group.momentum is not None) is info.has_momentum
            assert (group.betas is not None) is info.has_betas
    assert seen_opts == {"sgd", "adamw", "rmsprop"}
    assert seen_shapes == {"constant", "cosine", "onecycle", "wsd"}


@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_same_seed_same_trial_configs(sampler: str) -> None:
    spec = conditional_spec(per_group=True)
    first = [c.to_json() for c in run_trials(spec, sampler, 15, seed=7)[1]]
    again = [c.to_json() for c in run_trials(spec, sampler, 15, seed=7)[1]]
    other = [c.to_json() for c in run_trials(spec, sampler, 15, seed=8)[1]]
    assert first == again
    assert first != other


def test_trial_seed_follows_the_task_seed_and_trial_number() -> None:
    spec = parse(spec_data(task={"builtin": "digits", "seed": 100}))
    _, configs = run_trials(spec, "random", 3)
    assert [c.seed for c in configs] == [100, 101, 102]
    assert all(c.epochs == 3 for c in configs)


def test_config_from_params_round_trips() -> None:
    spec = conditional_spec(per_group=True)
    space = SearchSpace(spec)
    study, configs = run_trials(spec, "tpe", 12)
    for trial, config in zip(study.trials, configs, strict=True):
        assert space.config_from_params(trial.params, trial_number=trial.number) == config
    replayed = space.config_from_params(study.trials[0].params, trial_number=0, seed=1234)
    assert replayed.seed == 1234


def test_config_from_params_with_a_missing_param_fails() -> None:
    space = SearchSpace(conditional_spec(per_group=False))
    with pytest.raises(ValueError, match="opt.name"):
        space.config_from_params({})


# -- resolution -------------------------------------------------------------------------------------------------


def test_ratio_of_lrs_are_resolved() -> None:
    spec = parse(spec_data(groups=[
        {"name": "c", "params": ["c.*"], "lr": {"ratio_of": "b", "low": 0.1, "high": 1.0}},  # points forward
        {"name": "b", "params": ["b.*"], "lr": {"ratio_of": "a", "value": 0.5}},  # a fixed ratio
        {"name": "a", "rest": True, "lr": {"low": 1e-4, "high": 1e-1, "log": True}},
    ]))
    assert names(spec) == ["c.lr_ratio", "a.lr"]
    _, configs = run_trials(spec, "random", 5)
    for config in configs:
        lrs = {g.name: g.lr for g in config.groups()}
        assert lrs["a"] == config.params["a.lr"]
        assert lrs["b"] == pytest.approx(lrs["a"] * 0.5)
        assert lrs["c"] == pytest.approx(lrs["b"] * config.params["c.lr_ratio"])


def test_quickstart_style_ratio() -> None:
    spec = parse(spec_data())
    _, configs = run_trials(spec, "tpe", 5)
    for config in configs:
        head, backbone = config.groups()
        assert backbone.lr == pytest.approx(head.lr * config.params["backbone.lr_ratio"])
        assert head.lr == config.params["head.lr"]


def test_layerwise_decay() -> None:
    spec = parse(spec_data(groups=[
        {"name": "blocks", "layerwise": {"pattern": r"layers\.(\d+)\..*", "decay": {"low": 0.5, "high": 1.0}},
         "lr": {"low": 1e-4, "high": 1e-2, "log": True}},
        {"name": "rest", "rest": True, "lr": {"ratio_of": "blocks", "value": 2.0}},
    ]))
    assert names(spec) == ["blocks.lr", "blocks.layer_decay"]
    config = SearchSpace(spec).config_from_params({"blocks.lr": 1e-3, "blocks.layer_decay": 0.7})
    blocks, rest = config.groups()
    assert (blocks.layerwise, blocks.layer_decay, blocks.params, blocks.rest) == (r"layers\.(\d+)\..*", 0.7, [], False)
    assert rest.lr == pytest.approx(2e-3) and rest.rest and rest.layer_decay is None


def test_momentum_and_beta_defaults_follow_the_chosen_optimizer() -> None:
    spec = parse(spec_data(optimizer={"name": ["sgd", "adamw", "adagrad"]},
                           groups=[{"name": "all", "rest": True, "lr": 0.1}]))
    assert names(spec) == ["opt.name"]
    space = SearchSpace(spec)
    sgd, adamw, adagrad = (space.config_from_params({"opt.name": n}).groups()[0] for n in ("sgd", "adamw", "adagrad"))
    assert (sgd.momentum, sgd.betas) == (0.9, None)
    assert (adamw.momentum, adamw.betas) == (None, (0.9, 0.999))
    assert (adagrad.momentum, adagrad.betas) == (None, None)


def test_shape_defaults_fill_unsearched_parameters() -> None:
    spec = parse(spec_data(schedule={"shape": "onecycle", "params": {"onecycle": {"pct_start": 0.4}}}))
    config = SearchSpace(spec).config_from_params({"head.lr": 0.01, "backbone.lr_ratio": 1.0})
    schedule = config.groups()[0].schedule
    assert schedule.shape == "onecycle" and schedule.params["pct_start"] == 0.4
    assert schedule.momentum == "inverse"  # onecycle cycles momentum by default, like torch
    assert set(schedule.params) == {"pct_start", "div_factor", "final_div_factor", "anneal_strategy", "three_phase"}


# -- TrialConfig ------------------------------------------------------------------------------------------------


def test_trial_config_json_round_trip() -> None:
    _, configs = run_trials(conditional_spec(per_group=True), "random", 10)
    for config in configs:
        text = config.to_json()
        data: dict[str, Any] = json.loads(text)
        assert data["params"] == config.params
        again = TrialConfig.from_json(text)
        assert again == config
        assert again.to_json() == text
        for group in again.groups():
            assert group.betas is None or isinstance(group.betas, tuple)
