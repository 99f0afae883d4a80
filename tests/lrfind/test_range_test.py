"""Real range tests on digits-transfer: which lrs move, when a test stops, the hold point."""

from __future__ import annotations

import pytest
import torch

from lrsearch.config import parse_spec
from lrsearch.errors import LrsearchError
from lrsearch.lrfind import hold_point, lr_find, range_test
from lrsearch.lrfind._range_test import Ramp, average_ramps, ramp_lr
from lrsearch.space import SearchSpace
from lrsearch.tasks import load_task
from tests.conftest import digits_spec

GROUPS = [
    {"name": "head", "params": ["head.*"], "lr": {"low": 1e-4, "high": 1.0, "log": True}},
    {"name": "backbone", "rest": True, "lr": {"ratio_of": "head", "low": 0.01, "high": 1.0, "log": True},
     "momentum": {"low": 0.8, "high": 0.9}},
]


def transfer_spec(**overrides: object) -> dict:
    settings = {"task": {"builtin": "digits-transfer", "batch_size": 16, "device": "cpu", "threads": 1},
                "optimizer": {"name": "sgd"}, "groups": GROUPS, **overrides}
    return digits_spec("lrf", **settings)


@pytest.fixture(scope="module")
def setup() -> tuple:
    torch.set_num_threads(1)  # as task.threads: 1 does for lr_find; tiny model, and CI cores are shared
    spec = parse_spec(transfer_spec())
    space = SearchSpace(spec)
    config = space.config_from_params(hold_point(space)).optimizers[0]
    return spec, config, load_task("digits-transfer", None, {})


def _test(setup: tuple, multipliers: dict, **kw: object):
    _, config, task = setup
    args = {"start": 1e-5, "end": 1.0, "iters": 30, "batch_size": 16, "device": torch.device("cpu"), "seed": 0, **kw}
    return range_test(task, config, multipliers, **args)


def test_hold_point_is_the_middle_of_each_range_unless_given() -> None:
    space = SearchSpace(parse_spec(transfer_spec()))
    point = hold_point(space)
    assert point["head.lr"] == pytest.approx(1e-2)  # geometric middle of [1e-4, 1]
    assert point["backbone.lr_ratio"] == pytest.approx(0.1)
    assert point["backbone.momentum"] == pytest.approx(0.85)
    assert hold_point(space, {"head.lr": "0.05"})["head.lr"] == 0.05
    with pytest.raises(LrsearchError, match="not a dimension.*head.lr"):
        hold_point(space, {"head.learning_rate": "0.1"})
    with pytest.raises(LrsearchError, match="outside the study's range"):
        hold_point(space, {"head.lr": "3"})


def test_per_group_ramps_one_group_and_holds_the_other(setup: tuple) -> None:
    ramp = _test(setup, {"head": 1.0})
    assert ramp.stopped == "end" and len(ramp.lrs) == 30
    assert ramp.group_lrs["head"] == pytest.approx([ramp_lr(i, 1e-5, 1.0, 30) for i in range(30)])
    assert ramp.group_lrs["head"][-1] == pytest.approx(1.0)
    assert ramp.group_lrs["backbone"] == pytest.approx([1e-3] * 30)  # 1e-2 * 0.1, held


def test_joint_keeps_the_ratio_between_groups(setup: tuple) -> None:
    ramp = _test(setup, {"head": 1.0, "backbone": 0.1})
    ratios = [b / h for h, b in zip(ramp.group_lrs["head"], ramp.group_lrs["backbone"], strict=True)]
    assert ratios == pytest.approx([0.1] * len(ratios))


def test_a_ramp_into_huge_lrs_stops_when_the_loss_diverges(setup: tuple) -> None:
    ramp = _test(setup, {"head": 1.0}, start=1e-3, end=1e4, iters=60)
    assert ramp.stopped in ("diverged", "nan")
    assert len(ramp.lrs) < 60


def test_the_same_seed_gives_the_same_curve(setup: tuple) -> None:
    assert _test(setup, {"backbone": 1.0}).losses == _test(setup, {"backbone": 1.0}).losses


def test_lr_find_suggests_from_the_falling_part_of_the_curve() -> None:
    result = lr_find(parse_spec(transfer_spec()), iters=100)
    head = next(c for c in result.curves if c.group == "head")
    assert {c.group for c in result.curves} == {"head", "backbone"}
    assert head.held == {"backbone": pytest.approx(1e-3)}
    assert 1e-5 < head.suggested("valley") < head.suggestions["minimum"].lr_at  # before the loss turns up


@pytest.mark.slow
def test_more_runs_give_the_same_suggestion_from_other_seeds() -> None:
    """With batches of 16 from 50 images, one run's valley moves over a decade between seeds (4e-4 to 7e-3 over
    15 seeds); the mean loss of 5 runs gives nearly the same valley from disjoint seeds (6.3e-4 from seeds 0-4 and
    from 5-9, 5.2e-4 from 10-14)."""
    spec = parse_spec(transfer_spec())
    valleys = []
    for seed in (0, 5):
        result = lr_find(spec, iters=100, groups=["head"], seed=seed, runs=5)
        assert result.settings["runs"] == 5
        valleys.append(result.curves[0].suggested("valley"))
    assert max(valleys) / min(valleys) < 2, valleys
    with pytest.raises(LrsearchError, match="--runs must be a whole number >= 1"):
        lr_find(spec, runs=0)


def test_runs_are_averaged_over_the_batches_every_run_reached() -> None:
    lrs = [1e-3, 1e-2, 1e-1, 1.0]
    long = Ramp(lrs, [2.0, 1.0, 0.5, 0.4], [], "end", {"head": lrs})
    short = Ramp(lrs[:3], [1.0, 0.5, 9.0], [], "diverged", {"head": lrs[:3]})
    mean = average_ramps([long, short])
    assert mean.losses == [1.5, 0.75, 4.75]
    assert mean.lrs == lrs[:3] and mean.group_lrs == {"head": lrs[:3]}
    assert mean.stopped == "diverged"
    assert mean.smoothed[0] == pytest.approx(1.5)  # debiased moving average: the first point is the loss itself
