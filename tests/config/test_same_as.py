"""``{same_as: GROUP}``: one searched weight decay / momentum for several groups, refused where it means nothing."""

from __future__ import annotations

import optuna
import pytest

from lrsearch.config import parse_spec
from lrsearch.errors import SpecError
from lrsearch.space import SearchSpace
from tests.search.test_recipes import nested_spec


def test_a_tied_setting_is_one_dimension_and_the_same_value_in_both_groups() -> None:
    spec = parse_spec(nested_spec())
    space = SearchSpace(spec)
    names = [d.name for d in space.dimensions()]
    assert "head.weight_decay" in names and "backbone.weight_decay" not in names and "backbone.momentum" not in names
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        config = space.sample(study.ask())
        head, backbone = config.optimizers[0].groups
        assert backbone.weight_decay == head.weight_decay > 0
        if config.optimizers[0].name == "sgd":
            assert backbone.momentum == head.momentum
    # a recorded trial replays to the same tie (confirm, best, export rebuild configs from params)
    trial = study.trials[-1]
    again = space.config_from_params(trial.params)
    assert again.optimizers[0].groups[1].weight_decay == again.optimizers[0].groups[0].weight_decay


@pytest.mark.parametrize(("change", "field", "message"), [
    (lambda s: s["groups"][1].__setitem__("weight_decay", {"same_as": "nosuch"}), "groups[1].weight_decay.same_as",
     "must name an earlier group of the same optimizer, got 'nosuch' (earlier groups: head)"),
    (lambda s: s["groups"][0].__setitem__("momentum", {"same_as": "backbone"}), "groups[0].momentum.same_as",
     "this is the first group"),
    (lambda s: s["schedule"].__setitem__("warmup", {"same_as": "head"}), "schedule.warmup",
     "same_as is only for a group's weight_decay, momentum, beta1, beta2"),
    (lambda s: s["groups"][1].__setitem__("freeze_epochs", {"same_as": "head"}), "groups[1].freeze_epochs",
     "same_as is only for a group's"),
    (lambda s: s["groups"][1].__setitem__("weight_decay", {"same_as": "head", "low": 0.1, "high": 1.0}),
     "groups[1].weight_decay", "same_as takes its value from another group: give it alone"),
])
def test_same_as_where_it_means_nothing_is_refused(change, field: str, message: str) -> None:
    spec = nested_spec()
    change(spec)
    with pytest.raises(SpecError) as info:
        parse_spec(spec)
    problems = dict(info.value.problems)
    assert any(k.startswith(field) and message in v for k, v in problems.items()), problems
