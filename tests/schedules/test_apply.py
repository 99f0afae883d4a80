"""GroupScheduler: what it writes into param groups, optimizers without momentum/betas, state and resume."""

from __future__ import annotations

import json

import pytest

from lrsearch.errors import LrsearchError
from lrsearch.schedules import GroupScheduler
from lrsearch.trial_config import ScheduleConfig
from tests.schedules._torch_harness import LRS, MOMENTA, WEIGHT_DECAYS, base_values, make_optimizer

SPE, EPOCHS = 8, 12
TOTAL = SPE * EPOCHS


def test_construction_writes_step_zero_values() -> None:
    opt = make_optimizer("sgd")
    schedule = ScheduleConfig("onecycle", {"div_factor": 10.0}, momentum="inverse", momentum_base=0.85)
    sched = GroupScheduler(opt, [schedule] * 3, base_values("sgd"), SPE, EPOCHS)
    assert sched.last_step == 0 and sched.total_steps == TOTAL
    for group, lr, momentum in zip(opt.param_groups, LRS, MOMENTA, strict=True):
        assert group["lr"] == pytest.approx(lr / 10)
        assert group["momentum"] == pytest.approx(momentum)
    assert sched.get_last_lr() == pytest.approx([lr / 10 for lr in LRS])


def test_base_values_override_the_optimizer_and_missing_ones_are_read_from_it() -> None:
    opt = make_optimizer("sgd")
    bases = [
        {"lr": 0.5, "momentum": 0.7, "weight_decay": 0.01},
        {"lr": 0.2},
        {"lr": 0.1, "weight_decay": None},
    ]
    GroupScheduler(opt, [ScheduleConfig()] * 3, bases, SPE, EPOCHS)
    got = [(g["lr"], g["momentum"], g["weight_decay"]) for g in opt.param_groups]
    assert got == [(0.5, 0.7, 0.01), (0.2, MOMENTA[1], WEIGHT_DECAYS[1]), (0.1, MOMENTA[2], WEIGHT_DECAYS[2])]


def test_adam_beta1_moves_and_beta2_is_kept() -> None:
    opt = make_optimizer("adam")
    schedule = ScheduleConfig("cosine", momentum="inverse", momentum_base=0.8)
    sched = GroupScheduler(opt, [schedule] * 3, base_values("adam"), SPE, EPOCHS)
    assert [g["betas"] for g in opt.param_groups] == [(0.8, 0.999)] * 3  # lr at peak: beta1 at its low end
    for _ in range(TOTAL):
        sched.step()
    assert [g["betas"][0] for g in opt.param_groups] == pytest.approx(list(MOMENTA))
    assert all(g["betas"][1] == 0.999 for g in opt.param_groups)
    values = sched.current_values()
    assert set(values[0]) == {"lr", "beta1", "weight_decay"}
    assert values[0]["beta1"] == pytest.approx(MOMENTA[0])


def test_optimizer_without_momentum_or_betas() -> None:
    opt = make_optimizer("adagrad")
    sched = GroupScheduler(opt, [ScheduleConfig("cosine")] * 3, base_values("adagrad"), SPE, EPOCHS)
    sched.step()
    assert "momentum" not in opt.param_groups[0] and "betas" not in opt.param_groups[0]
    assert set(sched.current_values()[0]) == {"lr", "weight_decay"}
    with pytest.raises(LrsearchError, match="param group 0: schedule momentum 'inverse' needs an optimizer"):
        GroupScheduler(
            make_optimizer("adagrad"),
            [ScheduleConfig(momentum="inverse")] * 3,
            base_values("adagrad"),
            SPE,
            EPOCHS,
        )


def test_sgd_current_values_and_weight_decay_schedules() -> None:
    opt = make_optimizer("sgd")
    schedules = [
        ScheduleConfig("linear", weight_decay="follow_lr"),
        ScheduleConfig("linear", weight_decay="cosine", weight_decay_end_factor=0.0),
        ScheduleConfig("linear", weight_decay="constant"),
    ]
    bases = [{"lr": lr, "momentum": 0.9, "weight_decay": 0.02} for lr in LRS]
    sched = GroupScheduler(opt, schedules, bases, SPE, EPOCHS)
    for _ in range(TOTAL // 2):
        sched.step()
    values = sched.current_values()
    assert set(values[0]) == {"lr", "momentum", "weight_decay"}
    assert values[0]["weight_decay"] == pytest.approx(0.01)  # lr factor 0.5
    assert values[1]["weight_decay"] == pytest.approx(0.01)  # half way down the cosine to 0
    assert values[2]["weight_decay"] == 0.02


def test_state_dict_round_trip_resumes_at_the_same_values() -> None:
    schedules = [
        ScheduleConfig("onecycle", momentum="inverse", weight_decay="follow_lr"),
        ScheduleConfig("cosine_restarts", {"T_0": 0.1, "T_mult": 2}, warmup=0.05),
        ScheduleConfig("step", granularity="epoch"),
    ]
    opt = make_optimizer("sgd")
    sched = GroupScheduler(opt, schedules, base_values("sgd"), SPE, EPOCHS)
    for _ in range(37):
        sched.step()
    state = sched.state_dict()
    assert state == {"step": 37}
    state = json.loads(json.dumps(state))  # nothing but a counter: no callables

    opt2 = make_optimizer("sgd")
    resumed = GroupScheduler(opt2, schedules, base_values("sgd"), SPE, EPOCHS)
    resumed.load_state_dict(state)
    assert resumed.current_values() == sched.current_values()
    for _ in range(37, TOTAL + 3):  # past the end values hold (torch's OneCycleLR would raise)
        sched.step()
        resumed.step()
        assert resumed.current_values() == sched.current_values()


@pytest.mark.parametrize("state", [{}, {"step": -1}, {"step": 1.5}, {"step": True}])
def test_load_state_dict_rejects_bad_state(state: dict) -> None:
    sched = GroupScheduler(make_optimizer(), [ScheduleConfig()] * 3, base_values(), SPE, EPOCHS)
    with pytest.raises(LrsearchError, match="non-negative integer 'step'"):
        sched.load_state_dict(state)


def test_one_schedule_and_base_value_per_group() -> None:
    with pytest.raises(
        LrsearchError, match=r"one schedule and one base_values entry per param group \(3\), got 2 and 3"
    ):
        GroupScheduler(make_optimizer(), [ScheduleConfig()] * 2, base_values(), SPE, EPOCHS)
    with pytest.raises(LrsearchError, match="has no 'lr'"):
        GroupScheduler(make_optimizer(), [ScheduleConfig()] * 3, [{}, {}, {}], SPE, EPOCHS)
    with pytest.raises(LrsearchError, match="invalid schedule: params.min_ratio"):
        GroupScheduler(
            make_optimizer(), [ScheduleConfig("cosine", {"min_ratio": 2})] * 3, base_values(), SPE, EPOCHS
        )


def test_identical_schedules_are_evaluated_once_per_step() -> None:
    schedules = [ScheduleConfig("cosine"), ScheduleConfig("cosine"), ScheduleConfig("wsd")]
    sched = GroupScheduler(make_optimizer(), schedules, base_values(), SPE, EPOCHS)
    assert len(sched._plans) == 2
