"""Own-loop training functions (``task.train``) for the confirmation tests: digits, a linear model."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lrsearch.tasks import load_task
from lrsearch.training import TrialContext


def _accuracy(model: torch.nn.Module, split) -> float:
    with torch.no_grad():
        return float((model(split.x.flatten(1)).argmax(1) == split.y).float().mean())


def _fit(ctx: TrialContext, report_test: bool) -> None:
    task = load_task("digits", None, {})
    model = torch.nn.Sequential(torch.nn.Linear(64, 10))
    optimizer = ctx.optimizer(model)
    x, y = task.train.x.flatten(1), task.train.y
    batches = list(range(0, len(x), 128))
    scheduler = ctx.scheduler(optimizer, steps_per_epoch=len(batches))
    for epoch in range(1, ctx.epochs + 1):
        ctx.freeze(epoch)
        for start in batches:
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[start:start + 128]), y[start:start + 128]).backward()
            optimizer.step()
            scheduler.step()
        metrics = {"val_accuracy": _accuracy(model, task.val)}
        if report_test and ctx.evaluate_test and epoch == ctx.epochs:
            metrics["test_accuracy"] = _accuracy(model, task.test)
        ctx.report(epoch, metrics)


def train(ctx: TrialContext) -> None:
    """Reports test_accuracy in the last epoch of a confirmation run, as an own loop should."""
    _fit(ctx, report_test=True)


def train_without_test(ctx: TrialContext) -> None:
    """Never evaluates the test split: confirmation must say what is missing."""
    _fit(ctx, report_test=False)
