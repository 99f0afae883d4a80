"""What the framework tests share: a configuration, the managed loop's rows for it, and the schedule's lrs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from lrsearch.schedules import lr_factor
from lrsearch.space import GroupConfig, OptimizerConfig, ScheduleConfig, TrialConfig
from lrsearch.tasks import Split, Task
from lrsearch.training import NullRecorder, TrialContext, managed_train


def config(groups: list[GroupConfig], epochs: int = 3, name: str = "adamw") -> TrialConfig:
    return TrialConfig(epochs=epochs, seed=5, optimizers=[OptimizerConfig(key="main", name=name, groups=groups)])


def moving_schedules() -> dict[str, ScheduleConfig]:
    """A shape per group, warmup, beta1 moving against the lr, weight decay following it."""
    return {
        "head": ScheduleConfig("cosine", warmup=0.2, momentum="inverse", momentum_base=0.8),
        "layers": ScheduleConfig("onecycle", weight_decay="follow_lr"),
        "rest": ScheduleConfig("linear"),
    }


def managed_rows(trial: TrialConfig, build_model: Callable[[], nn.Module], train: Split, val: Split,
                 batch_size: int) -> list[dict[str, Any]]:
    """The rows lrsearch's managed loop records for ``trial`` on this model and data."""
    recorder = NullRecorder()
    task = Task(name="same-config", build_model=build_model, train=train, val=val, test=val)
    ctx = TrialContext(config=trial, objective="val_accuracy", recorder=recorder, batch_size=batch_size)
    managed_train(ctx, task)
    return recorder.epochs


def group_rows(epochs: list[dict[str, Any]]) -> list[tuple[int, int, list[dict[str, Any]]]]:
    """What must be equal across loops: epoch, step and every group's effective values and frozen flag."""
    return [(e["epoch"], e["step"], e["groups"]) for e in epochs]


def assert_same_rows(ours: list[dict[str, Any]], managed: list[dict[str, Any]]) -> None:
    assert len(ours) == len(managed)
    for a, b in zip(group_rows(ours), group_rows(managed), strict=True):
        assert a[:2] == b[:2]
        for ga, gb in zip(a[2], b[2], strict=True):
            assert ga.keys() == gb.keys()
            for key, value in ga.items():
                other = gb[key]
                if isinstance(value, float):
                    assert abs(value - other) <= 1e-9 * max(abs(value), 1e-12), (a[0], ga["group_name"], key)
                else:
                    assert value == other, (a[0], ga["group_name"], key)


def expected_lrs(trial: TrialConfig, model: nn.Module, steps_per_epoch: int) -> list[list[float]]:
    """Every optimizer step's lr per param group, from the schedules' pure functions: what must be applied."""
    groups = TrialContext(config=trial, objective="x").param_groups(model)
    by_name = {g.name: g for g in trial.optimizers[0].groups}
    total = steps_per_epoch * trial.epochs
    return [[g["lr"] * lr_factor(by_name[g["group"]].schedule, step, steps_per_epoch, trial.epochs)
             for g in groups] for step in range(total)]


class LrLog:
    """Records the lr of every param group at every optimizer step (a step pre-hook: what the step used)."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.steps: list[list[float]] = []
        optimizer.register_step_pre_hook(
            lambda opt, *_: self.steps.append([float(g["lr"]) for g in opt.param_groups]))
