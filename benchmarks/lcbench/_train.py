"""``task.train`` for lrsearch studies on the surrogate: one "epoch" is one surrogate query, reported as the
managed loop would report a real epoch (so Optuna's pruners see a real learning curve)."""

from __future__ import annotations

from typing import Any

from torch import nn

from benchmarks.lcbench._surrogate import EPOCHS, load
from lrsearch.space import TrialConfig
from lrsearch.training import TrialContext

# What the search does not touch (LCBench's architecture and batch size), at the config space's defaults.
FIXED = {"batch_size": 91, "num_layers": 3, "max_units": 256, "max_dropout": 0.5}


def config_of(config: TrialConfig, options: dict[str, Any]) -> dict[str, Any]:
    """The surrogate's hyperparameters for a trial: the single group's optimizer values, the rest fixed."""
    groups = config.groups()
    if len(groups) != 1:
        raise ValueError(f"LCBench has no parameter groups: give the study one group, got {[g.name for g in groups]}")
    group = groups[0]
    fixed = {**FIXED, **{k: v for k, v in options.items() if k in FIXED}}
    return {**fixed, "learning_rate": group.lr, "momentum": group.momentum if group.momentum is not None else 0.0,
            "weight_decay": group.weight_decay}


def held_out(config: TrialConfig, options: dict[str, Any]) -> float:
    """The surrogate's test balanced accuracy of ``config`` trained for all 52 epochs (deterministic)."""
    surrogate = load(options.get("data_dir"))
    return surrogate.final(str(options.get("instance", "3945")), config_of(config, options))["test_balanced_accuracy"]


def train(ctx: TrialContext) -> dict[str, float]:
    """Report the surrogate's curve epoch by epoch; lrsearch's pruner may stop it early.

    ``task.options``: ``instance`` (an OpenML dataset id, default ``"3945"``), optional ``data_dir`` and any
    of :data:`FIXED` to change a fixed hyperparameter. In confirmation runs (``ctx.evaluate_test``) the last
    epoch also reports the surrogate's ``test_balanced_accuracy`` and ``test_cross_entropy``.
    """
    if ctx.epochs > EPOCHS:
        raise ValueError(f"LCBench curves have {EPOCHS} epochs; budget.epochs is {ctx.epochs}")
    # A stand-in module, so that lrsearch builds the sampled optimizer and records its effective group values.
    ctx.optimizer(nn.Linear(1, 1))
    surrogate = load(ctx.options.get("data_dir"))
    curve = surrogate.curve(str(ctx.options.get("instance", "3945")), config_of(ctx.config, ctx.options), ctx.epochs)
    metrics: dict[str, float] = {}
    for epoch in range(1, ctx.epochs + 1):
        names = ["val_accuracy", "val_balanced_accuracy", "val_cross_entropy"]
        if getattr(ctx, "evaluate_test", False) and epoch == ctx.epochs:
            names += ["test_balanced_accuracy", "test_cross_entropy"]
        metrics = {name: float(curve[name][epoch - 1]) for name in names}
        ctx.report(epoch, metrics, step=epoch)
    return metrics
