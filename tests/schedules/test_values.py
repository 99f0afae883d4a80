"""Composition of a ScheduleConfig: granularity, warmup, momentum and weight-decay policies."""

from __future__ import annotations

import math

import pytest
import torch
from torch.optim.lr_scheduler import LambdaLR

from lrsearch.errors import LrsearchError
from lrsearch.schedules import (
    GroupScheduler,
    compile_schedule,
    get_shape,
    lr_factor,
    momentum_value,
    schedule_problems,
    weight_decay_value,
)
from lrsearch.trial_config import ScheduleConfig
from tests.schedules._torch_harness import LRS, assert_close, make_optimizer


def test_warmup_ramps_linearly_then_the_shape_runs_over_the_rest() -> None:
    schedule = ScheduleConfig("cosine", warmup=0.1, warmup_start_factor=0.0)
    spe, epochs = 10, 10  # 100 steps: 10 of warmup, cosine over the remaining 90
    assert lr_factor(schedule, 0, spe, epochs) == 0.0
    assert lr_factor(schedule, 5, spe, epochs) == pytest.approx(0.5)
    assert lr_factor(schedule, 10, spe, epochs) == pytest.approx(1.0)
    assert lr_factor(schedule, 55, spe, epochs) == pytest.approx(0.5)
    assert lr_factor(schedule, 100, spe, epochs) == pytest.approx(0.0, abs=1e-15)
    assert lr_factor(schedule, 250, spe, epochs) == pytest.approx(0.0, abs=1e-15)  # past the end: holds


def test_warmup_ramps_to_the_shapes_first_value() -> None:
    schedule = ScheduleConfig("onecycle", {"div_factor": 25.0}, warmup=0.2, warmup_start_factor=0.0)
    assert compile_schedule(schedule, 10, 10).warmup_steps == 20
    assert lr_factor(schedule, 10, 10, 10) == pytest.approx(0.5 / 25)
    assert lr_factor(schedule, 20, 10, 10) == pytest.approx(1 / 25)


def test_warmup_start_factor_and_rounding() -> None:
    schedule = ScheduleConfig("constant", warmup=0.05, warmup_start_factor=0.2)
    plan = compile_schedule(schedule, 7, 3)  # 21 steps: 0.05 * 21 = 1.05 -> 1 warmup step
    assert plan.warmup_steps == 1
    assert lr_factor(schedule, 0, 7, 3) == 0.2
    assert lr_factor(schedule, 1, 7, 3) == 1.0
    tiny = ScheduleConfig("constant", warmup=0.001)
    assert compile_schedule(tiny, 7, 3).warmup_steps == 1  # a positive warmup is at least one step


def test_epoch_granularity_moves_only_at_epoch_boundaries() -> None:
    schedule = ScheduleConfig("cosine", granularity="epoch", warmup=0.2)  # 2 of 10 epochs of warmup
    values = [lr_factor(schedule, s, 5, 10) for s in range(51)]
    for epoch in range(10):
        assert len(set(values[epoch * 5 : (epoch + 1) * 5])) == 1
    assert values[0] == 0.0 and values[5] == 0.5 and values[10] == 1.0
    assert values[10 + 4 * 5] == pytest.approx(0.5)  # epoch 6: middle of the 8-epoch cosine
    assert values[50] == pytest.approx(0.0, abs=1e-15)


# Hugging Face transformers schedules, written from their definitions (optimization.py), as LambdaLR lambdas.
def hf_cosine_with_warmup(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))


def hf_linear_with_warmup(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


def hf_wsd(step: int, warmup: int, stable: int, decay: int, decay_type: str, min_lr_ratio: float) -> float:
    if step < warmup:
        return (step / max(1, warmup)) * (1.0 - min_lr_ratio) + min_lr_ratio
    if step < warmup + stable:
        return 1.0
    if step < warmup + stable + decay:
        progress = (step - warmup - stable) / max(1, decay)
        if decay_type == "linear":
            factor = 1.0 - progress
        elif decay_type == "cosine":
            factor = 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress))
        else:
            factor = 1.0 - math.sqrt(progress)
        return max(0.0, factor * (1.0 - min_lr_ratio) + min_lr_ratio)
    return min_lr_ratio


def hf_inverse_sqrt(step: int, warmup: int, timescale: int) -> float:
    if step < warmup:
        return step / max(1, warmup)
    shift = timescale - warmup
    return 1.0 / math.sqrt((step + shift) / timescale)


TOTAL, WARMUP = 200, 20  # warmup 0.1; shapes run over the remaining 180 steps
HF_CASES = {
    "cosine": (ScheduleConfig("cosine", warmup=0.1), lambda s: hf_cosine_with_warmup(s, WARMUP, TOTAL)),
    "linear": (ScheduleConfig("linear", warmup=0.1), lambda s: hf_linear_with_warmup(s, WARMUP, TOTAL)),
    # decay_fraction 0.25 of the post-warmup 180 steps = 45 decay steps, 135 stable.
    **{
        f"wsd-{kind}": (
            ScheduleConfig(
                "wsd",
                {"decay_fraction": 0.25, "decay_type": kind, "min_ratio": 0.05},
                warmup=0.1,
                warmup_start_factor=0.05,
            ),
            lambda s, kind=kind: hf_wsd(s, WARMUP, 135, 45, kind, 0.05),
        )
        for kind in ("linear", "cosine", "1-sqrt")
    },
    # timescale 0.25 of 180 = 45 steps.
    "inverse_sqrt": (
        ScheduleConfig("inverse_sqrt", {"timescale": 0.25}, warmup=0.1),
        lambda s: hf_inverse_sqrt(s, WARMUP, 45),
    ),
}


@pytest.mark.parametrize("case", sorted(HF_CASES))
def test_warmup_composition_matches_hugging_face(case: str) -> None:
    schedule, reference = HF_CASES[case]
    opt_hf, opt_ours = make_optimizer(), make_optimizer()
    hf = LambdaLR(opt_hf, [reference] * len(LRS))
    ours = GroupScheduler(opt_ours, [schedule] * len(LRS), [{"lr": lr} for lr in LRS], 20, 10)
    for step in range(TOTAL + 1):
        if step:
            opt_hf.step()
            opt_ours.step()
            hf.step()
            ours.step()
        for i, (a, b) in enumerate(zip(opt_hf.param_groups, opt_ours.param_groups, strict=True)):
            assert_close(a["lr"], b["lr"], f"group {i} at step {step}")


def test_flat_cos_matches_fastai_combined_cos() -> None:
    def sched_cos(start: float, end: float, pos: float) -> float:  # fastai SchedCos
        return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2

    def fastai_flat_cos(
        pos: float, pct: float, div_final: float
    ) -> float:  # combine_scheds([pct, 1-pct], ...)
        if pos < pct:
            return sched_cos(1.0, 1.0, pos / pct)
        return sched_cos(1.0, 1.0 / div_final, (pos - pct) / (1 - pct))

    shape = get_shape("flat_cos")
    for step in range(101):
        expected = fastai_flat_cos(step / 100, 0.7, 1e4)
        assert shape.factor(step, 100, pct_start=0.7, div_final=1e4) == pytest.approx(expected, rel=1e-9)


def test_momentum_inverse_follows_the_lr_factor() -> None:
    schedule = ScheduleConfig("cosine", momentum="inverse", momentum_base=0.85)
    assert momentum_value(schedule, 0.95, 0, 10, 10) == pytest.approx(0.85)  # lr at its peak: momentum low
    assert momentum_value(schedule, 0.95, 50, 10, 10) == pytest.approx(0.90)
    assert momentum_value(schedule, 0.95, 100, 10, 10) == pytest.approx(0.95)
    constant = ScheduleConfig("cosine", momentum="constant")
    assert momentum_value(constant, 0.95, 50, 10, 10) == 0.95


def test_momentum_during_warmup_is_the_clamped_lr_factor_for_derived_shapes() -> None:
    schedule = ScheduleConfig("cosine", warmup=0.2, warmup_start_factor=0.0, momentum="inverse")
    for step in range(0, 21):
        fraction = min(1.0, max(0.0, lr_factor(schedule, step, 10, 10)))
        assert momentum_value(schedule, 0.95, step, 10, 10) == pytest.approx(0.95 - 0.1 * fraction)


def test_native_momentum_fraction_is_used_for_onecycle() -> None:
    schedule = ScheduleConfig("onecycle", {"pct_start": 0.3}, momentum="inverse", momentum_base=0.85)
    assert momentum_value(schedule, 0.95, 0, 10, 10) == pytest.approx(0.95)
    assert momentum_value(schedule, 0.95, 29, 10, 10) == pytest.approx(0.85)  # lr peak at pct_start*total - 1
    assert momentum_value(schedule, 0.95, 99, 10, 10) == pytest.approx(0.95)


@pytest.mark.parametrize("granularity", ["step", "epoch"])
def test_weight_decay_policies(granularity: str) -> None:
    base = ScheduleConfig("linear", {"end_factor": 0.0}, granularity=granularity, weight_decay_end_factor=0.1)
    spe, epochs = 10, 10
    end = 100
    constant = ScheduleConfig(**{**base.__dict__, "weight_decay": "constant"})
    follow = ScheduleConfig(**{**base.__dict__, "weight_decay": "follow_lr"})
    cosine = ScheduleConfig(**{**base.__dict__, "weight_decay": "cosine"})
    assert weight_decay_value(constant, 0.05, 70, spe, epochs) == 0.05
    for step in range(0, end + 1, 10):
        assert weight_decay_value(follow, 0.05, step, spe, epochs) == pytest.approx(
            0.05 * lr_factor(follow, step, spe, epochs)
        )
    assert weight_decay_value(cosine, 0.05, 0, spe, epochs) == pytest.approx(0.05)
    assert weight_decay_value(cosine, 0.05, end // 2, spe, epochs) == pytest.approx(0.05 * 0.55)
    assert weight_decay_value(cosine, 0.05, end, spe, epochs) == pytest.approx(0.005)


def test_schedule_problems_lists_every_problem() -> None:
    schedule = ScheduleConfig(
        "onecycle",
        {"pct_start": 2.0, "anneal_strategy": "cosine"},
        warmup=1.0,
        granularity="batch",
        momentum="cyclic",
        weight_decay="linear",
        momentum_base=1.2,
    )
    fields = [f for f, _ in schedule_problems(schedule)]
    assert fields == [
        "params.pct_start",
        "params.anneal_strategy",
        "granularity",
        "momentum",
        "weight_decay",
        "warmup",
        "momentum_base",
    ]
    with pytest.raises(LrsearchError, match=r"invalid schedule: params.pct_start: must be >= 0 and <= 1"):
        compile_schedule(schedule, 10, 10)
    assert schedule_problems(ScheduleConfig("cosin"))[0][0] == "shape"
    with pytest.raises(LrsearchError, match="unknown schedule shape 'cosin'; known: constant"):
        lr_factor(ScheduleConfig("cosin"), 0, 10, 10)
    with pytest.raises(LrsearchError, match="steps_per_epoch and epochs must be >= 1"):
        compile_schedule(ScheduleConfig(), 0, 10)


def test_group_scheduler_agrees_with_the_pure_functions() -> None:
    schedules = [
        ScheduleConfig(
            "wsd", warmup=0.1, momentum="inverse", weight_decay="cosine", weight_decay_end_factor=0.2
        ),
        ScheduleConfig("cyclic", {"mode": "exp_range"}, momentum="inverse", weight_decay="follow_lr"),
        ScheduleConfig("step", granularity="epoch", weight_decay="follow_lr"),
    ]
    bases = [{"lr": lr, "momentum": 0.9, "weight_decay": 1e-3} for lr in LRS]
    opt = make_optimizer("sgd")
    sched = GroupScheduler(opt, schedules, bases, 6, 9)
    for step in range(6 * 9 + 1):
        if step:
            sched.step()
        for i, (schedule, base) in enumerate(zip(schedules, bases, strict=True)):
            values = sched.current_values()[i]
            assert values["lr"] == pytest.approx(base["lr"] * lr_factor(schedule, step, 6, 9), rel=1e-12)
            assert values["momentum"] == pytest.approx(momentum_value(schedule, 0.9, step, 6, 9), rel=1e-12)
            assert values["weight_decay"] == pytest.approx(
                weight_decay_value(schedule, 1e-3, step, 6, 9), rel=1e-12
            )
    assert torch.is_tensor(opt.param_groups[0]["params"][0])
