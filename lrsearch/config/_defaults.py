"""What lrsearch uses where a spec is silent about the optimizer, the sampler or the pruner.

The defaults follow ``python -m benchmarks.run value`` (``benchmarks/RESULTS.md``, "Does per-group search
pay?"): the measured best search is schedule-free AdamW with a constant schedule, multivariate TPE with 4
random start-up trials, and successive halving. Filled into the spec's data before it is validated, so the
stored spec of a study holds them explicitly and every worker and every resume uses the same values.

- ``optimizer.name``: ``adamw_schedulefree`` when lrsearch runs the training (a ``builtin`` or ``entrypoint``
  task: the managed loop switches the optimizer's train/eval modes), ``adamw`` for an own loop (``task.train``),
  which may not call ``ctx.train_mode()`` / ``ctx.eval_mode()``.
- ``sampler``: TPE with ``multivariate: true`` and ``n_startup_trials: 4`` when the spec names TPE (or no
  sampler) and gives no options.
- ``pruner``: successive halving (``min_resource: 1, reduction_factor: 3``) when every optimizer the space can
  choose is horizon-free (schedule-free) and every schedule is ``constant``; otherwise the median pruner, as
  before: with a decaying schedule, judging trials after one epoch is biased against slow starts (measured on
  the transformer task).
"""

from __future__ import annotations

import copy
from typing import Any

MANAGED_OPTIMIZER = "adamw_schedulefree"
OWN_LOOP_OPTIMIZER = "adamw"
TPE_OPTIONS: dict[str, Any] = {"multivariate": True, "n_startup_trials": 4}
HORIZON_FREE_PRUNER: dict[str, Any] = {
    "name": "successive_halving", "options": {"min_resource": 1, "reduction_factor": 3},
}
PRUNER = "median"


def fill_defaults(data: Any) -> Any:
    """``data`` (a parsed study file) with the silent defaults filled in; anything malformed is left as it is
    for validation to report."""
    if not isinstance(data, dict):
        return data
    data = copy.copy(data)
    task = data.get("task")
    own_loop = isinstance(task, dict) and bool(task.get("train"))
    optimizer_default = OWN_LOOP_OPTIMIZER if own_loop else MANAGED_OPTIMIZER
    blocks = data.get("optimizers")
    if isinstance(blocks, dict):
        data["optimizers"] = {k: _with_name(b, optimizer_default) for k, b in blocks.items()}
    elif blocks is None:
        data["optimizer"] = _with_name(data.get("optimizer", {}), optimizer_default)
    data["sampler"] = _sampler(data.get("sampler", {}))
    data["pruner"] = _pruner(data)
    return data


def _with_name(block: Any, name: str) -> Any:
    if block is None:
        block = {}
    if isinstance(block, dict) and block.get("name") is None:
        return {**block, "name": name}
    return block


def _sampler(sampler: Any) -> Any:
    if sampler is None:
        sampler = {}
    if isinstance(sampler, dict) and sampler.get("name", "tpe") == "tpe" and "options" not in sampler:
        return {**sampler, "name": "tpe", "options": dict(TPE_OPTIONS)}
    return sampler


def _pruner(data: dict[str, Any]) -> Any:
    pruner = data.get("pruner", {})
    if pruner is None:
        pruner = {}
    if not isinstance(pruner, dict) or pruner.get("name") is not None or "options" in pruner:
        return pruner
    chosen = copy.deepcopy(HORIZON_FREE_PRUNER) if _horizon_free(data) else {"name": PRUNER}
    return {**pruner, **chosen}


def _horizon_free(data: dict[str, Any]) -> bool:
    """Every optimizer the space can choose is horizon-free and every schedule shape is ``constant``."""
    blocks = data.get("optimizers")
    if isinstance(blocks, dict):
        units = [b for b in blocks.values() if isinstance(b, dict)]
    else:
        optimizer = data.get("optimizer")
        units = [{**(optimizer if isinstance(optimizer, dict) else {}), "schedule": data.get("schedule"),
                  "groups": data.get("groups")}]
    return bool(units) and all(_unit_horizon_free(u) for u in units)


def _unit_horizon_free(unit: dict[str, Any]) -> bool:
    groups = unit.get("groups") if isinstance(unit.get("groups"), list) else []
    group_schedules = [g.get("schedule") for g in groups if isinstance(g, dict) and g.get("schedule") is not None]
    return _names_horizon_free(unit.get("name")) and all(_constant(s) for s in [unit.get("schedule"), *group_schedules])


def _names_horizon_free(name: Any) -> bool:
    from lrsearch.errors import LrsearchError
    from lrsearch.optim import get_optimizer_info

    names = name.get("choices") if isinstance(name, dict) else [name]
    if not isinstance(names, list) or not names:
        return False
    try:
        return all(isinstance(n, str) and get_optimizer_info(n).horizon_free for n in names)
    except LrsearchError:  # an unknown name: validation reports it; no default depends on it
        return False


def _constant(schedule: Any) -> bool:
    if schedule is None:
        return True  # the silent schedule is constant
    if not isinstance(schedule, dict):
        return False
    shape = schedule.get("shape", "constant")
    shapes = shape.get("choices") if isinstance(shape, dict) else shape if isinstance(shape, list) else [shape]
    return isinstance(shapes, list) and all(s == "constant" for s in shapes)
