"""Every shape torch implements gives torch's per-group lr (and momentum) at every step of a run."""

from __future__ import annotations

import pytest
from torch.optim import lr_scheduler

from lrsearch.trial_config import ScheduleConfig
from tests.schedules._torch_harness import LRS, MOMENTA, run_side_by_side, steps

SPE, EPOCHS = 7, 19  # 133 steps: odd, so fraction -> step rounding matters
TOTAL = SPE * EPOCHS


def test_step_lr() -> None:
    schedule = ScheduleConfig("step", {"step_size": 0.15, "gamma": 0.5})
    assert steps(0.15, TOTAL) == 20
    run_side_by_side(lambda o: lr_scheduler.StepLR(o, step_size=20, gamma=0.5), schedule, SPE, EPOCHS)


def test_multistep_lr() -> None:
    schedule = ScheduleConfig("multistep", {"milestones": [0.3, 0.6, 0.9], "gamma": 0.3})
    milestones = [steps(m, TOTAL) for m in (0.3, 0.6, 0.9)]
    run_side_by_side(
        lambda o: lr_scheduler.MultiStepLR(o, milestones=milestones, gamma=0.3), schedule, SPE, EPOCHS
    )


def test_exponential_lr_with_equivalent_gamma() -> None:
    schedule = ScheduleConfig("exponential", {"end_factor": 0.02})
    gamma = 0.02 ** (1 / TOTAL)
    run_side_by_side(lambda o: lr_scheduler.ExponentialLR(o, gamma=gamma), schedule, SPE, EPOCHS)


@pytest.mark.parametrize(("start", "end", "duration"), [(1.0, 0.0, 1.0), (0.5, 0.1, 0.6), (0.25, 1.0, 0.3)])
def test_linear_lr(start: float, end: float, duration: float) -> None:
    schedule = ScheduleConfig("linear", {"start_factor": start, "end_factor": end, "duration": duration})
    iters = steps(duration, TOTAL)
    run_side_by_side(
        lambda o: lr_scheduler.LinearLR(o, start_factor=start, end_factor=end, total_iters=iters),
        schedule,
        SPE,
        EPOCHS,
    )


@pytest.mark.parametrize(("power", "duration"), [(1.0, 1.0), (2.0, 0.8), (0.5, 1.0)])
def test_polynomial_lr_decays_to_zero(power: float, duration: float) -> None:
    schedule = ScheduleConfig("polynomial", {"power": power, "end_factor": 0.0, "duration": duration})
    iters = steps(duration, TOTAL)
    run_side_by_side(
        lambda o: lr_scheduler.PolynomialLR(o, total_iters=iters, power=power), schedule, SPE, EPOCHS
    )


def test_cosine_annealing_multi_group_with_zero_floor() -> None:
    schedule = ScheduleConfig("cosine", {"min_ratio": 0.0})
    run_side_by_side(
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=TOTAL, eta_min=0.0), schedule, SPE, EPOCHS
    )


def test_cosine_floor_is_relative_per_group() -> None:
    """torch's eta_min is absolute, so per group it equals ours only with eta_min = lr * min_ratio."""
    for lr in LRS:
        schedule = ScheduleConfig("cosine", {"min_ratio": 0.05})
        compared = _single_group_run(
            lambda o, lr=lr: lr_scheduler.CosineAnnealingLR(o, T_max=TOTAL, eta_min=lr * 0.05), schedule, lr
        )
        assert compared == TOTAL + 1


@pytest.mark.parametrize(("t0", "t_mult"), [(0.2, 1), (0.1, 2), (0.05, 3)])
def test_cosine_annealing_warm_restarts(t0: float, t_mult: int) -> None:
    schedule = ScheduleConfig("cosine_restarts", {"T_0": t0, "T_mult": t_mult, "min_ratio": 0.0})
    t0_steps = steps(t0, TOTAL)
    run_side_by_side(
        lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=t0_steps, T_mult=t_mult, eta_min=0.0),
        schedule,
        SPE,
        EPOCHS,
    )


def test_cosine_warm_restarts_relative_floor_single_group() -> None:
    lr = LRS[1]
    schedule = ScheduleConfig("cosine_restarts", {"T_0": 0.1, "T_mult": 2, "min_ratio": 0.1})
    _single_group_run(
        lambda o: lr_scheduler.CosineAnnealingWarmRestarts(
            o, T_0=steps(0.1, TOTAL), T_mult=2, eta_min=lr * 0.1
        ),
        schedule,
        lr,
    )


def _cyclic_torch(mode: str, up: float, down: float | None, base_ratio: float, gamma: float, momentum: bool):
    up_steps = steps(up, TOTAL)
    down_steps = up_steps if down is None else steps(down, TOTAL)

    def make(optimizer):
        return lr_scheduler.CyclicLR(
            optimizer,
            base_lr=[lr * base_ratio for lr in LRS],
            max_lr=list(LRS),
            step_size_up=up_steps,
            step_size_down=down_steps,
            mode=mode,
            gamma=gamma ** (1 / (up_steps + down_steps)),  # ours: per cycle; torch: per iteration
            cycle_momentum=momentum,
            base_momentum=[0.85] * len(LRS),
            max_momentum=list(MOMENTA),
        )

    return make


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
@pytest.mark.parametrize(("up", "down"), [(0.1, None), (0.05, 0.15)])
def test_cyclic_lr_with_momentum(mode: str, up: float, down: float | None) -> None:
    params = {"mode": mode, "step_size_up": up, "step_size_down": down, "base_ratio": 0.1, "gamma": 0.6}
    schedule = ScheduleConfig("cyclic", params, momentum="inverse", momentum_base=0.85)
    run_side_by_side(
        _cyclic_torch(mode, up, down, 0.1, 0.6, True), schedule, SPE, EPOCHS, check_momentum=True
    )


def test_cyclic_lr_cycles_adam_beta1() -> None:
    schedule = ScheduleConfig("cyclic", {"mode": "triangular2", "step_size_up": 0.08}, momentum="inverse")
    run_side_by_side(
        _cyclic_torch("triangular2", 0.08, None, 0.1, 0.5, True),
        schedule,
        SPE,
        EPOCHS,
        kind="adam",
        check_momentum=True,
    )


def test_cyclic_lr_without_momentum_cycling_keeps_momentum() -> None:
    schedule = ScheduleConfig("cyclic", {"mode": "triangular", "step_size_up": 0.1, "base_ratio": 0.2})
    run_side_by_side(
        _cyclic_torch("triangular", 0.1, None, 0.2, 1.0, False), schedule, SPE, EPOCHS, check_momentum=True
    )


def _onecycle_torch(total: int, **kwargs):
    return lambda o: lr_scheduler.OneCycleLR(
        o, max_lr=list(LRS), total_steps=total, base_momentum=0.85, max_momentum=list(MOMENTA), **kwargs
    )


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
def test_onecycle_lr_with_momentum(kind: str, anneal: str, three_phase: bool) -> None:
    params = {
        "pct_start": 0.25,
        "div_factor": 20.0,
        "final_div_factor": 1e3,
        "anneal_strategy": anneal,
        "three_phase": three_phase,
    }
    schedule = ScheduleConfig("onecycle", params, momentum="inverse", momentum_base=0.85)
    torch_kwargs = {
        "pct_start": 0.25,
        "div_factor": 20.0,
        "final_div_factor": 1e3,
        "anneal_strategy": anneal,
        "three_phase": three_phase,
    }
    # torch extrapolates past its last phase at step == total_steps (a value no optimizer step uses); we hold.
    compared = run_side_by_side(
        _onecycle_torch(TOTAL, **torch_kwargs),
        schedule,
        SPE,
        EPOCHS,
        kind=kind,
        check_momentum=True,
        last_step=False,
    )
    assert compared == TOTAL


def test_onecycle_default_params_match_torch_defaults() -> None:
    schedule = ScheduleConfig("onecycle", {}, momentum="inverse", momentum_base=0.85)
    run_side_by_side(_onecycle_torch(TOTAL), schedule, SPE, EPOCHS, check_momentum=True, last_step=False)


# Epoch granularity: our scheduler still steps per batch, but values move only at epoch boundaries, exactly
# like a torch scheduler stepped once per epoch.
EPOCH_CASES = {
    "step": (
        {"step_size": 0.25, "gamma": 0.5},
        lambda o: lr_scheduler.StepLR(o, step_size=steps(0.25, EPOCHS), gamma=0.5),
    ),
    "multistep": (
        {"milestones": [0.5, 0.8]},
        lambda o: lr_scheduler.MultiStepLR(o, milestones=[steps(0.5, EPOCHS), steps(0.8, EPOCHS)]),
    ),
    "cosine": ({}, lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=EPOCHS)),
    "exponential": ({"end_factor": 0.1}, lambda o: lr_scheduler.ExponentialLR(o, gamma=0.1 ** (1 / EPOCHS))),
    "linear": (
        {"start_factor": 1.0, "end_factor": 0.2},
        lambda o: lr_scheduler.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=EPOCHS),
    ),
    "cosine_restarts": (
        {"T_0": 0.25, "T_mult": 2},
        lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=steps(0.25, EPOCHS), T_mult=2),
    ),
}


@pytest.mark.parametrize("shape", sorted(EPOCH_CASES))
def test_epoch_granularity_matches_torch_stepped_per_epoch(shape: str) -> None:
    params, make = EPOCH_CASES[shape]
    schedule = ScheduleConfig(shape, params, granularity="epoch")
    compared = run_side_by_side(make, schedule, SPE, EPOCHS, torch_per_epoch=True)
    assert compared == TOTAL + 1


def test_epoch_granularity_onecycle_matches_torch_per_epoch() -> None:
    schedule = ScheduleConfig("onecycle", {"pct_start": 0.3}, granularity="epoch", momentum="inverse")
    run_side_by_side(
        _onecycle_torch(EPOCHS),
        schedule,
        SPE,
        EPOCHS,
        torch_per_epoch=True,
        check_momentum=True,
        last_step=False,
    )


def test_groups_with_different_shapes_match_one_torch_scheduler_each() -> None:
    """A GroupScheduler with a different shape per group equals three torch schedulers on three optimizers."""
    import torch

    from lrsearch.schedules import GroupScheduler

    schedules = [
        ScheduleConfig("cosine"),
        ScheduleConfig("step", {"step_size": 0.3, "gamma": 0.5}),
        ScheduleConfig("onecycle", momentum="inverse", momentum_base=0.85),
    ]
    params = [torch.nn.Parameter(torch.zeros(2)) for _ in LRS]
    singles = [torch.optim.SGD([p], lr=lr, momentum=m) for p, lr, m in zip(params, LRS, MOMENTA, strict=True)]
    torch_scheds = [
        lr_scheduler.CosineAnnealingLR(singles[0], T_max=TOTAL),
        lr_scheduler.StepLR(singles[1], step_size=steps(0.3, TOTAL), gamma=0.5),
        lr_scheduler.OneCycleLR(singles[2], max_lr=LRS[2], total_steps=TOTAL, max_momentum=MOMENTA[2]),
    ]
    combined = torch.optim.SGD(
        [
            {"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr, "momentum": m}
            for lr, m in zip(LRS, MOMENTA, strict=True)
        ]
    )
    ours = GroupScheduler(
        combined,
        schedules,
        [{"lr": lr, "momentum": m} for lr, m in zip(LRS, MOMENTA, strict=True)],
        SPE,
        EPOCHS,
    )
    for step in range(TOTAL):
        for i, single in enumerate(singles):
            assert abs(single.param_groups[0]["lr"] - combined.param_groups[i]["lr"]) <= 1e-6 * LRS[i], (
                step,
                i,
            )
            assert abs(single.param_groups[0]["momentum"] - combined.param_groups[i]["momentum"]) <= 1e-9, (
                step,
                i,
            )
        for single, sched in zip(singles, torch_scheds, strict=True):
            single.step()
            sched.step()
        combined.step()
        ours.step()


def _single_group_run(make_torch_scheduler, schedule: ScheduleConfig, lr: float) -> int:
    import torch

    from lrsearch.schedules import GroupScheduler
    from tests.schedules._torch_harness import assert_close

    opt_t = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=lr)
    opt_o = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=lr)
    torch_sched = make_torch_scheduler(opt_t)
    ours = GroupScheduler(opt_o, [schedule], [{"lr": lr}], SPE, EPOCHS)
    compared = 0
    for step in range(TOTAL + 1):
        if step:
            opt_t.step()
            opt_o.step()
            torch_sched.step()
            ours.step()
        assert_close(opt_t.param_groups[0]["lr"], opt_o.param_groups[0]["lr"], f"lr at step {step}")
        compared += 1
    return compared
