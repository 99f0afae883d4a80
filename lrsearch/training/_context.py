"""TrialContext: builds what a trial sampled and records what it did. The managed loop and users' own loops
both go through it, so both record the same rows."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import optuna
import torch
from torch import nn

from lrsearch.interrupt import raise_if_stopped
from lrsearch.trial_config import GroupConfig, OptimizerConfig, TrialConfig

T = TypeVar("T")


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
    model: nn.Module
    scheduler: Any = None
    steps: int = 0  # optimizer.step() calls, counted by a post-step hook
    # An optimizer of another framework (Keras): its rows and step count come from these, and it freezes itself.
    read_values: Callable[[], list[dict[str, Any]]] | None = None
    read_steps: Callable[[], int] | None = None

    @property
    def step_count(self) -> int:
        return self.read_steps() if self.read_steps is not None else self.steps


@dataclass
class TrialContext:
    """What a training function gets: the sampled config, builders for its torch objects, and ``report``.

    Own-loop use (``task: {train: my_pkg.mod:train}``; lrsearch seeds ``random``, numpy and torch with
    ``ctx.seed`` and fixes the CPU thread count before calling it)::

        def train(ctx, *, width=64):                        # task.options as keyword arguments
            data = ctx.cache("data", load_data)             # once per worker process, not once per trial
            model = MyNet(width).to(ctx.device)
            opt = ctx.optimizer(model)                      # param groups + optimizer, as sampled
            sched = ctx.scheduler(opt, steps_per_epoch=len(loader))
            for epoch in range(1, ctx.epochs + 1):
                model.train()
                ctx.freeze(epoch)                           # groups frozen for their first freeze_epochs
                for x, y in loader:
                    ...; opt.step(); sched.step()
                metrics = {"val_accuracy": acc}
                if ctx.evaluate_test and epoch == ctx.epochs:   # confirmation runs: held-out split too
                    metrics["test_accuracy"] = test_acc
                ctx.report(epoch, metrics)                  # records curves; raises optuna.TrialPruned

    Schedule-free optimizers (``adamw_schedulefree``, ``sgd_schedulefree``) also need ``ctx.train_mode()``
    before each epoch's steps and ``ctx.eval_mode(model, train_batches)`` before evaluating (both are no-ops for
    other optimizers).

    With several optimizers (``optimizers: {generator: ..., discriminator: ...}``) name each one:
    ``ctx.optimizer("generator", g)``. Every optimizer of the study must be built before the first ``report``,
    so that every group's effective values are recorded, as the managed loop records them.

    Attributes:
        config: The sampled, resolved :class:`TrialConfig`.
        objective, direction: The metric ``report`` must include, and whether lower or higher is better.
        device: The device this trial was given (``task.device``, or the worker's GPU).
        options: ``task.options`` from the spec, for the training function's own settings (also passed to it as
            keyword arguments when it names them: ``def train(ctx, *, width=16)``).
        batch_size: ``task.batch_size``.
        evaluate_test: True in confirmation runs: evaluate on the held-out split too and report ``test_*``
            metrics (at least with the last epoch).
        trial_number: The Optuna trial number (confirmation runs use the number of the trial they confirm).
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
    evaluate_test: bool = False
    _bound: list[_Bound] = field(default_factory=list)
    _started: float = field(default_factory=time.monotonic)
    _steps: int | None = None  # set by count_step; otherwise the optimizers' own step counts are used
    _last_epoch: int = 0
    _last_metrics: dict[str, float] = field(default_factory=dict)
    _pruned: optuna.TrialPruned | None = None

    @property
    def epochs(self) -> int:
        """Epochs this trial trains for (``budget.epochs``); ``report`` accepts epochs 1..epochs."""
        return self.config.epochs

    @property
    def seed(self) -> int:
        """The trial's seed (``task.seed + trial number``; fresh seeds in confirmation runs)."""
        return self.config.seed

    @property
    def threads(self) -> int:
        """CPU threads torch uses in this trial (``task.threads``, else the cores split between workers)."""
        return torch.get_num_threads()

    @property
    def optimizer_names(self) -> list[str]:
        """The study's optimizer names: ``["main"]`` for a single optimizer, else the spec's keys."""
        return [o.key for o in self.config.optimizers]

    @property
    def last_epoch(self) -> int:
        """The last epoch reported (0 before the first ``report``)."""
        return self._last_epoch

    @property
    def last_metrics(self) -> dict[str, float]:
        """The metrics of the last ``report`` (empty before the first)."""
        return dict(self._last_metrics)

    @property
    def pruned(self) -> bool:
        """True once a ``report`` was told to prune: the trial ends pruned even if the function returns."""
        return self._pruned is not None

    def raise_if_pruned(self) -> None:
        """Raise ``optuna.TrialPruned`` again if a ``report`` was told to prune (for callbacks that stop a
        framework's loop first and end the trial once the framework has finished)."""
        if self._pruned is not None:
            raise optuna.TrialPruned(*self._pruned.args)

    @property
    def schedulers(self) -> dict[str, Any]:
        """The schedulers built by :meth:`scheduler` so far, by optimizer name (``"main"`` for one optimizer)."""
        return {b.key: b.scheduler for b in self._bound if b.scheduler is not None}

    # -- builders -------------------------------------------------------------------------------------------

    def cache(self, key: Hashable, build: Callable[[], T]) -> T:
        """``build()`` once per worker process for ``key``, then the same object in every later trial.

        For data, tokenizers and anything else that does not depend on the sampled config:
        ``data = ctx.cache(("digits", n_train), lambda: load_digits(n_train))``.
        """
        from lrsearch.training._cache import cached

        return cached(key, build)

    def param_groups(self, model: nn.Module, optimizer: str | None = None) -> list[dict[str, Any]]:
        """Torch param-group dicts for ``model`` as this trial sampled them (lr, momentum/betas, weight decay)."""
        from lrsearch.groups import build_param_groups

        return build_param_groups(model, self._opt_config(optimizer))

    def optimizer(self, key_or_model: str | nn.Module, model: nn.Module | None = None) -> torch.optim.Optimizer:
        """``ctx.optimizer(model)`` for a study with one optimizer, ``ctx.optimizer("generator", g)`` otherwise."""
        from lrsearch.optim import build_optimizer

        if isinstance(key_or_model, nn.Module):
            if model is not None:
                raise TypeError("ctx.optimizer takes (model) or (name, module), got two modules")
            key, model = None, key_or_model
        elif isinstance(key_or_model, str):
            key = key_or_model
        else:
            raise TypeError(f"ctx.optimizer takes (model) or (name, module), got a {type(key_or_model).__name__} first")
        if not isinstance(model, nn.Module):
            got = "nothing" if model is None else f"a {type(model).__name__}"
            raise TypeError(f"ctx.optimizer({key!r}, module) needs the nn.Module whose parameters it optimizes, got {got}")
        cfg = self._opt_config(key)
        if any(b.key == cfg.key for b in self._bound):
            raise RuntimeError(
                f"optimizer {cfg.key!r} was already built in this trial; build each optimizer once (its groups "
                "are recorded every epoch) and keep the object"
            )
        opt = build_optimizer(cfg, self.param_groups(model, cfg.key))
        bound = _Bound(cfg.key, opt, cfg, model)
        opt.register_step_post_hook(lambda *_: setattr(bound, "steps", bound.steps + 1))
        self._bound.append(bound)
        return opt

    def attach(self, key: str | None, optimizer: Any, *, values: Callable[[], list[dict[str, Any]]],
               steps: Callable[[], int], model: Any = None) -> None:
        """Bind an optimizer built outside torch (``lrsearch.integrations.keras``) as optimizer ``key``.

        ``values()`` returns the effective per-group values now, one dict per group with ``group_name``, ``lr``,
        ``momentum``, ``weight_decay`` and ``frozen``; ``steps()`` the optimizer's own step count. Such an
        optimizer applies its schedules and freezing itself, so :meth:`freeze` and :meth:`scheduler` leave it alone.
        """
        cfg = self._opt_config(key)
        if any(b.key == cfg.key for b in self._bound):
            raise RuntimeError(f"optimizer {cfg.key!r} was already built in this trial; build each optimizer once")
        self._bound.append(_Bound(cfg.key, optimizer, cfg, model, read_values=values, read_steps=steps))

    def scheduler(self, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> Any:
        """The per-group schedule of ``optimizer``: call ``.step()`` once per batch after ``optimizer.step()``."""
        from lrsearch.schedules import GroupScheduler

        bound = self._find(optimizer)
        if bound.read_values is not None:
            raise RuntimeError(f"optimizer {bound.key!r} applies its own per-group schedules; it needs no ctx.scheduler")
        if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
            raise ValueError(f"ctx.scheduler: steps_per_epoch must be a positive int (batches an epoch), got {steps_per_epoch!r}")
        if bound.scheduler is not None:
            raise RuntimeError(f"ctx.scheduler was already called for optimizer {bound.key!r}; keep the first one")
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

        if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch <= self.epochs:
            raise ValueError(f"ctx.freeze(epoch): epochs count from 1 to {self.epochs} (as in ctx.report), got {epoch!r}")
        if not self._bound:
            raise RuntimeError("ctx.freeze needs the optimizers: call ctx.optimizer(...) first")
        for bound in self._bound:
            if bound.read_values is None:
                set_frozen(bound.optimizer, epoch, model=bound.model, freeze_bn_stats=freeze_bn_stats)

    # -- schedule-free modes --------------------------------------------------------------------------------

    def _mode_switching(self) -> list[_Bound]:
        from lrsearch.optim import get_optimizer_info

        return [b for b in self._bound if get_optimizer_info(b.config.name).switches_modes]

    def train_mode(self) -> None:
        """Put every optimizer that has modes (schedule-free) in train mode: call before the epoch's steps.

        A no-op for other optimizers, so a loop can always call it.
        """
        for bound in self._mode_switching():
            bound.optimizer.train()  # type: ignore[attr-defined]

    def eval_mode(self, model: nn.Module | None = None, batches: Any = None, *, max_batches: int = 50) -> None:
        """Put every optimizer that has modes (schedule-free) in eval mode: call before evaluating.

        Schedule-free optimizers evaluate at the average of their iterates, whose BatchNorm statistics were never
        measured: given the ``model`` and an iterable of training ``(x, y)`` batches, the running statistics are
        measured again on up to ``max_batches`` of them (no gradients, no optimizer step). A no-op for other
        optimizers.
        """
        switching = self._mode_switching()
        for bound in switching:
            bound.optimizer.eval()  # type: ignore[attr-defined]
        if not switching or model is None or batches is None:
            return
        norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
        if not norms:
            return
        was_training = model.training
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the batches below
        model.train()
        with torch.no_grad():
            for i, (x, _y) in enumerate(batches):
                if i >= max_batches:
                    break
                model(x)
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        model.train(was_training)

    # -- reporting ------------------------------------------------------------------------------------------

    def count_step(self, n: int = 1) -> None:
        """Count steps for the ``step`` column yourself. Without it the column holds the most ``step()`` calls
        any of the trial's optimizers has made (a GAN's discriminator may step more often than its generator)."""
        self._steps = (self._steps or 0) + n

    @property
    def steps(self) -> int:
        """The value of the ``step`` column now."""
        if self._steps is not None:
            return self._steps
        return max((b.step_count for b in self._bound), default=0)

    def check_deadline(self) -> None:
        """Stop the trial if it ran past its timeout, or if a Ctrl-C or a stop signal was lost (see lrsearch.interrupt)."""
        raise_if_stopped()
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TrialFailed("timeout", "the trial ran past budget.trial_timeout")

    def group_values(self) -> list[dict[str, Any]]:
        """The effective per-group values, read from the optimizers themselves."""
        rows = []
        for bound in self._bound:
            if bound.read_values is not None:
                rows += [{"optimizer": bound.key, **row} for row in bound.read_values()]
                continue
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
        """Record epoch ``epoch`` (1-based) and report the objective; raises ``optuna.TrialPruned`` to stop.

        ``metrics`` maps names to numbers (floats, ints or one-element tensors) and must hold the objective.
        """
        self._check_report(epoch, metrics)
        metrics = {str(k): float(v) for k, v in metrics.items()}
        if self.objective not in metrics:
            raise TrialFailed("exception", f"report() got metrics {sorted(metrics)} without the objective {self.objective!r}")
        value = metrics[self.objective]
        wall = time.monotonic() - self._started
        self.recorder.record(epoch, self.steps if step is None else step, wall, metrics, self.group_values())
        self._last_epoch, self._last_metrics = epoch, metrics
        if not math.isfinite(value):
            raise TrialFailed("nan", f"objective {self.objective} is {value} at epoch {epoch}")
        self.check_deadline()
        if self.recorder.should_prune(epoch, value):
            self._pruned = optuna.TrialPruned(f"pruned at epoch {epoch} ({self.objective}={value:.4g})")
            raise self._pruned

    # -- helpers --------------------------------------------------------------------------------------------

    def _check_report(self, epoch: int, metrics: Any) -> None:
        if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch <= self.epochs:
            raise ValueError(f"ctx.report(epoch, ...): epoch must be an int from 1 to {self.epochs}, got {epoch!r}")
        if epoch <= self._last_epoch:
            raise ValueError(f"ctx.report: epoch {epoch} was reported after epoch {self._last_epoch}; report each "
                             "epoch once, in order")
        if not isinstance(metrics, Mapping):
            raise TypeError(f"ctx.report(epoch, metrics): metrics must be a dict of name -> number, got "
                            f"{type(metrics).__name__}")
        built = {b.key for b in self._bound}
        missing = [k for k in self.optimizer_names if k not in built]
        if missing:
            how = " and ".join(f"ctx.optimizer({k!r}, module)" for k in missing) if len(self.optimizer_names) > 1 \
                else "ctx.optimizer(model)"
            raise RuntimeError(f"ctx.report before {how}: build every optimizer of the study first, so that its "
                               "groups' effective values are recorded")
        stepping = [b.config.name for b in self._mode_switching()
                    if any(g.get("train_mode") for g in b.optimizer.param_groups)]
        if stepping:
            raise RuntimeError(
                f"ctx.report: {', '.join(stepping)} is still in train mode, so the metrics were measured at its "
                "training iterate, not at the averaged weights it is meant to be judged by: call "
                "ctx.eval_mode(model, train_batches) before evaluating and ctx.train_mode() before the next "
                "epoch's steps, or choose another optimizer (optimizer.name: adamw)")
        for name, value in metrics.items():
            if isinstance(value, torch.Tensor) and value.numel() != 1:
                raise TypeError(f"ctx.report: metric {name!r} is a tensor of shape {tuple(value.shape)}, not one number")
            if not isinstance(value, (int, float, torch.Tensor)) and not hasattr(value, "__float__"):
                raise TypeError(f"ctx.report: metric {name!r} must be a number, got {type(value).__name__}")

    def _opt_config(self, key: str | None) -> OptimizerConfig:
        names = self.optimizer_names
        if key is None:
            if len(names) != 1:
                raise TypeError(f"this study has several optimizers ({', '.join(names)}); name one: "
                                f"ctx.optimizer({names[0]!r}, module)")
            return self.config.optimizers[0]
        if key not in names:
            hint = "ctx.optimizer(model) without a name" if names == ["main"] else f"one of {', '.join(names)}"
            raise ValueError(f"no optimizer {key!r} in this study; use {hint}")
        return self.config.optimizer(key)

    def _find(self, optimizer: torch.optim.Optimizer) -> _Bound:
        for bound in self._bound:
            if bound.optimizer is optimizer:
                return bound
        raise ValueError("ctx.scheduler needs an optimizer built by ctx.optimizer(...) in this trial")


TrainFunction = Callable[[TrialContext], Any]
