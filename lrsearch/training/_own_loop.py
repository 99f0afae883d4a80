"""Running a user's own training function (``task: {train: my_pkg.mod:train}``) under a TrialContext."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from lrsearch.errors import TaskError
from lrsearch.training._context import TrainFunction, TrialContext, TrialFailed
from lrsearch.training._loop import seed_everything


def option_kwargs(fn: Callable[..., Any], options: Mapping[str, Any], field: str, *, skip: int = 1) -> dict[str, Any]:
    """The keyword arguments ``fn`` gets from ``task.options``: those its signature names after the first ``skip``
    positional parameters (``ctx``), or all of them with ``**kwargs``.

    A function that takes only ``ctx`` gets none (it reads ``ctx.options``). One that names keywords gets every
    option, and an option it does not name, or a keyword without default that no option gives, is an error:
    otherwise ``train(ctx, n_train=500)`` would silently train with its default.

    Raises:
        TaskError: An option ``fn`` does not accept, or a required keyword without an option.
    """
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return {}
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    rest = [p for p in params if p not in positional[:skip]]
    takes_any = any(p.kind is p.VAR_KEYWORD for p in rest)
    named = {p.name: p for p in rest if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    if not named and not takes_any:
        return {}
    name = getattr(fn, "__qualname__", repr(fn))
    accepted = ", ".join(n if p.default is inspect.Parameter.empty else f"{n} (default {p.default!r})"
                         for n, p in named.items()) or "any"
    unknown = sorted(set(options) - set(named))
    if unknown and not takes_any:
        raise TaskError(f"{field} {name} does not accept task.options {', '.join(unknown)}; it accepts: {accepted}")
    missing = [n for n, p in named.items() if p.default is inspect.Parameter.empty and n not in options]
    if missing:
        raise TaskError(f"{field} {name} needs task.options {', '.join(missing)}; it accepts: {accepted}")
    return dict(options)


def run_train_function(ctx: TrialContext, fn: TrainFunction) -> dict[str, float]:
    """Seed like the managed loop does, call ``fn(ctx, **options)``, and return the trial's final metrics.

    ``task.options`` are passed as keyword arguments when ``fn`` names them (``train(ctx, n_train=500)``); a
    function taking only ``ctx`` reads them from ``ctx.options``.

    The final metrics are the last ``ctx.report``'s, updated with the dict ``fn`` returns, if it returns one
    (e.g. ``test_*`` metrics computed after the last report in a confirmation run).

    Raises:
        TrialFailed: ``fn`` returned without ever calling ``ctx.report``, so nothing was recorded or judged.
        TypeError: ``fn`` returned something other than None or a dict of numbers.
        TaskError: ``task.options`` do not fit ``fn``'s keywords.
    """
    kwargs = option_kwargs(fn, ctx.options, "task.train")
    seed_everything(ctx.seed)
    result: Any = fn(ctx, **kwargs)
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
