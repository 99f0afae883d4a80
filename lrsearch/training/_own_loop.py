"""Running a user's own training function (``task: {train: my_pkg.mod:train}``) under a TrialContext."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrsearch.training._context import TrainFunction, TrialContext, TrialFailed
from lrsearch.training._loop import seed_everything


def run_train_function(ctx: TrialContext, fn: TrainFunction) -> dict[str, float]:
    """Seed like the managed loop does, call ``fn(ctx)``, and return the trial's final metrics.

    The final metrics are the last ``ctx.report``'s, updated with the dict ``fn`` returns, if it returns one
    (e.g. ``test_*`` metrics computed after the last report in a confirmation run).

    Raises:
        optuna.TrialPruned: A ``ctx.report`` was told to prune, even if ``fn`` caught that and returned.
        TrialFailed: ``fn`` returned without ever calling ``ctx.report``, so nothing was recorded or judged.
        TypeError: ``fn`` returned something other than None or a dict of numbers.
    """
    seed_everything(ctx.seed)
    result: Any = fn(ctx)
    ctx.raise_if_pruned()  # the prune signal was caught (a framework callback stops training first)
    if result is not None and not isinstance(result, Mapping):
        raise TypeError(f"a task.train function returns None or a dict of final metrics, got {type(result).__name__}")
    if ctx.last_epoch == 0:
        name = getattr(fn, "__qualname__", repr(fn))
        raise TrialFailed("exception", f"task.train function {name} returned without calling ctx.report(epoch, "
                                       f"metrics); report {ctx.objective!r} at least once")
    metrics = ctx.last_metrics
    for key, value in (result or {}).items():
        try:
            metrics[str(key)] = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"a task.train function's returned metric {key!r} must be a number, got {value!r}") from None
    return metrics
