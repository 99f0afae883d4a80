"""Run torch's own scheduler and :class:`GroupScheduler` side by side on identical multi-group optimizers."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from lrsearch.schedules import GroupScheduler
from lrsearch.trial_config import ScheduleConfig

LRS = (0.1, 0.03, 0.002)  # three groups with different base lrs
MOMENTA = (0.9, 0.95, 0.8)  # and different momenta / beta1s
WEIGHT_DECAYS = (1e-4, 5e-4, 0.0)


def steps(fraction: float, total: int) -> int:
    """The documented conversion of a duration fraction to steps."""
    return max(1, round(fraction * total))


def make_optimizer(kind: str = "sgd") -> torch.optim.Optimizer:
    torch.manual_seed(0)
    layers = [nn.Linear(2, 2) for _ in LRS]
    if kind == "sgd":
        groups = [
            {"params": layer.parameters(), "lr": lr, "momentum": m, "weight_decay": wd}
            for layer, lr, m, wd in zip(layers, LRS, MOMENTA, WEIGHT_DECAYS, strict=True)
        ]
        return torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    if kind == "adam":
        groups = [
            {"params": layer.parameters(), "lr": lr, "betas": (m, 0.999), "weight_decay": wd}
            for layer, lr, m, wd in zip(layers, LRS, MOMENTA, WEIGHT_DECAYS, strict=True)
        ]
        return torch.optim.Adam(groups, lr=0.1)
    if kind == "adagrad":  # neither momentum nor betas
        return torch.optim.Adagrad(
            [{"params": layer.parameters(), "lr": lr} for layer, lr in zip(layers, LRS, strict=True)]
        )
    raise ValueError(kind)


def base_values(kind: str = "sgd") -> list[dict]:
    if kind == "sgd":
        return [
            {"lr": lr, "momentum": m, "weight_decay": wd}
            for lr, m, wd in zip(LRS, MOMENTA, WEIGHT_DECAYS, strict=True)
        ]
    if kind == "adam":
        return [
            {"lr": lr, "betas": (m, 0.999), "weight_decay": wd}
            for lr, m, wd in zip(LRS, MOMENTA, WEIGHT_DECAYS, strict=True)
        ]
    return [{"lr": lr} for lr in LRS]


def momentum_of(group: dict) -> float:
    return group["betas"][0] if "betas" in group else group["momentum"]


def assert_close(expected: float, actual: float, what: str) -> None:
    assert math.isclose(expected, actual, rel_tol=1e-6, abs_tol=1e-15), (
        f"{what}: torch {expected!r}, ours {actual!r}"
    )


def run_side_by_side(
    make_torch_scheduler: Callable[[torch.optim.Optimizer], object],
    schedule: ScheduleConfig,
    steps_per_epoch: int,
    epochs: int,
    *,
    kind: str = "sgd",
    torch_per_epoch: bool = False,
    check_momentum: bool = False,
    last_step: bool = True,
) -> int:
    """Step both for the whole run, comparing every group's lr (and momentum) at every batch step.

    ``torch_per_epoch``: torch's scheduler is stepped at epoch ends (our schedule has epoch granularity).
    ``last_step=False`` skips the value after the final step (never used by an optimizer step).
    Returns the number of steps compared.
    """
    opt_torch, opt_ours = make_optimizer(kind), make_optimizer(kind)
    torch_scheduler = make_torch_scheduler(opt_torch)
    ours = GroupScheduler(opt_ours, [schedule] * len(LRS), base_values(kind), steps_per_epoch, epochs)
    total = steps_per_epoch * epochs
    compared = 0
    for step in range(total + 1):
        if step > 0:
            opt_torch.step()
            opt_ours.step()
            ours.step()
            if not torch_per_epoch or step % steps_per_epoch == 0:
                torch_scheduler.step()
        if step == total and not last_step:
            break
        for i, (gt, go) in enumerate(zip(opt_torch.param_groups, opt_ours.param_groups, strict=True)):
            assert_close(gt["lr"], go["lr"], f"group {i} lr at step {step}")
            if check_momentum:
                assert_close(momentum_of(gt), momentum_of(go), f"group {i} momentum at step {step}")
        compared += 1
    return compared
