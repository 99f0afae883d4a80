"""TrialContext: builds what a trial sampled and records what it did. The managed loop and users' own loops
both go through it, so both record the same rows."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import optuna
import torch
from torch import nn

from lrsearch.space import GroupConfig, OptimizerConfig, TrialConfig


class TrialFailed(Exception):
    """A trial failed for a classified reason (``nan``, ``timeout``, ``oom``, ``exception``, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Recorder(Protocol):
    """Where a trial's epochs go: storage plus the Optuna trial (runner), or nowhere (replay, tests)."""

    def record(self, epoch: int, step: int, wall_time: float, metrics: dict[str, float],
               groups: list[dict[str, Any]]) -> None: ...

    def should_prune(self, epoch: int, value: float) -> bool: ...


class NullRecorder:
    """Keeps epochs in memory; never prunes."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, Any]] = []

    def record(self, epoch: int, step: int, wall_time: float, metrics: dict[str, float],
               groups: list[dict[str, Any]]) -> None:
        self.epochs.append({"epoch": epoch, "step": step, "wall_time": wall_time, "metrics": dict(metrics),
                            "groups": [dict(g) for g in groups]})

    def should_prune(self, epoch: int, value: float) -> bool:
        return False


@dataclass
class _Bound:
    key: str
    optimizer: torch.optim.Optimizer
    config: OptimizerConfig
    scheduler: Any = None


@dataclass
class TrialContext:
    """What a training function gets: the sampled config, builders for its torch objects, and ``report``.

    Own-loop use (``task: {train: my_pkg.mod:train}``)::

        def train(ctx):
            model = MyNet().to(ctx.device)
            opt = ctx.optimizer(model)                      # param groups + optimizer, as sampled
            sched = ctx.scheduler(opt, steps_per_epoch=len(loader))
            for epoch in range(1, ctx.epochs + 1):
                ctx.freeze(epoch)                           # groups frozen for their first freeze_epochs
                for x, y in loader:
                    ...; opt.step(); sched.step()
                ctx.report(epoch, {"val_accuracy": acc})    # records curves; raises optuna.TrialPruned
    """

    config: TrialConfig
    objective: str
    direction: str = "maximize"
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    recorder: Any = field(default_factory=NullRecorder)
    trial_number: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 64
    deadline: float | None = None  # time.monotonic() after which the trial times out
    _bound: list[_Bound] = field(default_factory=list)
    _started: float = field(default_factory=time.monotonic)
    _steps: int = 0
    _models: list[nn.Module] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        return self.config.epochs

    @property
    def seed(self) -> int:
        return self.config.seed

    # -- builders -------------------------------------------------------------------------------------------

    def param_groups(self, model: nn.Module, optimizer: str | None = None) -> list[dict[str, Any]]:
        """Torch param-group dicts for ``model`` as this trial sampled them (lr, momentum/betas, weight decay)."""
        from lrsearch.groups import build_param_groups

        return build_param_groups(model, self._opt_config(optimizer))

    def optimizer(self, key_or_model: str | nn.Module, model: nn.Module | None = None) -> torch.optim.Optimizer:
        """``ctx.optimizer(model)`` for a study with one optimizer, ``ctx.optimizer("generator", g)`` otherwise."""
        from lrsearch.optim import build_optimizer

        if isinstance(key_or_model, nn.Module):
            key, model = None, key_or_model
        else:
            key = key_or_model
        if model is None:
            raise TypeError("ctx.optimizer needs the model (or module) whose parameters it optimizes")
        cfg = self._opt_config(key)
        opt = build_optimizer(cfg, self.param_groups(model, cfg.key))
        self._bound.append(_Bound(cfg.key, opt, cfg))
        self._models.append(model)
        return opt

    def scheduler(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> Any:
        """The per-group schedule of ``optimizer``: call ``.step()`` once per batch after ``optimizer.step()``."""
        from lrsearch.schedules import GroupScheduler

        bound = self._find(optimizer)
        by_name = {g.name: g for g in bound.config.groups}
        schedules, bases = [], []
        for group in optimizer.param_groups:
            gc: GroupConfig = by_name[str(group.get("group", group["name"]))]
            schedules.append(gc.schedule)
            base: dict[str, Any] = {"lr": group["lr"], "weight_decay": group.get("weight_decay", 0.0)}
            if "momentum" in group:
                base["momentum"] = group["momentum"]
            if "betas" in group:
                base["betas"] = tuple(group["betas"])
            bases.append(base)
        bound.scheduler = GroupScheduler(optimizer, schedules, bases, steps_per_epoch=steps_per_epoch, epochs=self.epochs)
        return bound.scheduler

    def freeze(self, epoch: int, *, freeze_bn_stats: bool = False) -> None:
        """Apply freezing for ``epoch`` (1-based): a group with ``freeze_epochs = k`` is frozen in epochs 1..k."""
        from lrsearch.groups import set_frozen

        for bound, model in zip(self._bound, self._models):
            set_frozen(bound.optimizer, epoch - 1, model=model, freeze_bn_stats=freeze_bn_stats)

    # -- reporting ------------------------------------------------------------------------------------------

    def count_step(self, n: int = 1) -> None:
        """Count optimizer steps for the ``step`` column (the managed loop calls this; own loops may)."""
        self._steps += n

    def check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TrialFailed("timeout", "the trial ran past budget.trial_timeout")

    def group_values(self) -> list[dict[str, Any]]:
        """The effective per-group values, read from the optimizers themselves."""
        rows = []
        for bound in self._bound:
            for group in bound.optimizer.param_groups:
                momentum = group.get("momentum")
                if momentum is None and "betas" in group:
                    momentum = group["betas"][0]
                frozen = bool(group["params"]) and not any(p.requires_grad for p in group["params"])
                rows.append({
                    "optimizer": bound.key,
                    "group_name": str(group.get("name", "?")),
                    "lr": float(group["lr"]),
                    "momentum": None if momentum is None else float(momentum),
                    "weight_decay": float(group.get("weight_decay", 0.0)),
                    "frozen": frozen,
                })
        return rows

    def report(self, epoch: int, metrics: dict[str, float], step: int | None = None) -> None:
        """Record epoch ``epoch`` (1-based) and report the objective; raises ``optuna.TrialPruned`` to stop."""
        metrics = {k: float(v) for k, v in metrics.items()}
        if self.objective not in metrics:
            raise TrialFailed("exception", f"report() got metrics {sorted(metrics)} without the objective {self.objective!r}")
        value = metrics[self.objective]
        wall = time.monotonic() - self._started
        self.recorder.record(epoch, self._steps if step is None else step, wall, metrics, self.group_values())
        if not math.isfinite(value):
            raise TrialFailed("nan", f"objective {self.objective} is {value} at epoch {epoch}")
        self.check_deadline()
        if self.recorder.should_prune(epoch, value):
            raise optuna.TrialPruned(f"pruned at epoch {epoch} ({self.objective}={value:.4g})")

    # -- helpers --------------------------------------------------------------------------------------------

    def _opt_config(self, key: str | None) -> OptimizerConfig:
        if key is None:
            if len(self.config.optimizers) != 1:
                names = ", ".join(o.key for o in self.config.optimizers)
                raise TypeError(f"this study has several optimizers ({names}); name one: ctx.optimizer('<name>', module)")
            return self.config.optimizers[0]
        return self.config.optimizer(key)

    def _find(self, optimizer: torch.optim.Optimizer) -> _Bound:
        for bound in self._bound:
            if bound.optimizer is optimizer:
                return bound
        raise ValueError("ctx.scheduler needs an optimizer built by ctx.optimizer")


TrainFunction = Callable[[TrialContext], Any]
