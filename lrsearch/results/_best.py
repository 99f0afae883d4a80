"""The best trial of a study: which one, its config as a search-space-free study YAML, and as PyTorch code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import yaml

from lrsearch.config import StudySpec
from lrsearch.errors import LrsearchError
from lrsearch.optim import get_optimizer_info
from lrsearch.results._frames import confirmed_frame
from lrsearch.results._snippet import pytorch_snippet
from lrsearch.results._source import finished_trial, open_readonly, recorded_threads, trial_config
from lrsearch.runner import StudyHandle, best_own_trial
from lrsearch.space import GroupConfig, OptimizerConfig, TrialConfig
from lrsearch.storage import tables

BY = ("auto", "search", "confirmed")


@dataclass
class BestTrial:
    """A chosen trial with everything ``lrsearch best`` shows and writes."""

    handle: StudyHandle
    number: int
    value: float
    config: TrialConfig
    info: dict[str, Any]
    chosen_by: str  # "search", "confirmed" or "--trial"
    confirmed: Any  # the study's confirmed ranking (a DataFrame, maybe empty)


def best_trial(storage: str, study: str, *, trial: int | None = None, by: str = "auto") -> BestTrial:
    """The trial to use: ``trial`` if given; else the best confirmed mean when confirmation runs exist (``by``
    ``auto`` or ``confirmed``), else the best search score (``by="search"`` always)."""
    if by not in BY:
        raise LrsearchError(f"--by must be one of {', '.join(BY)}, got {by!r}")
    handle = open_readonly(storage, study)
    ranking = confirmed_frame(storage, study)
    if trial is not None:
        number, chosen_by = trial, "--trial"
    elif by != "search" and not ranking.empty:
        number, chosen_by = int(ranking["number"].iloc[0]), "confirmed"
    elif by == "confirmed":
        raise LrsearchError(f"study {study!r} has no confirmation runs; run lrsearch confirm first, or use "
                            "--by search")
    else:
        best = best_own_trial(handle)
        if best is None:
            raise LrsearchError(f"study {study!r} has no COMPLETE trial run by lrsearch yet")
        number, chosen_by = best.number, "search"
    frozen = finished_trial(handle, number, purpose="lrsearch best")
    config, info = trial_config(handle, number)
    return BestTrial(handle, number, float(frozen.value), config, info, chosen_by, ranking)


# -- the fixed study ----------------------------------------------------------------------------------------


def _schedule(group: GroupConfig) -> dict[str, Any]:
    s = group.schedule
    params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in s.params.items() if v is not None}
    out: dict[str, Any] = {"shape": s.shape}
    if params:
        out["params"] = {s.shape: params}
    out.update(warmup=s.warmup, warmup_start_factor=s.warmup_start_factor, granularity=s.granularity,
               momentum=s.momentum, momentum_base=s.momentum_base, weight_decay=s.weight_decay,
               weight_decay_end_factor=s.weight_decay_end_factor)
    return out


def _group(group: GroupConfig, has_momentum: bool, has_betas: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": group.name}
    if group.rest:
        out["rest"] = True
    elif group.layerwise is not None:
        out["layerwise"] = {"pattern": group.layerwise, "decay": group.layer_decay}
    else:
        out["params"] = list(group.params)
    out["lr"] = group.lr
    if has_momentum and group.momentum is not None:
        out["momentum"] = group.momentum
    if has_betas and group.betas is not None:
        out["beta1"], out["beta2"] = group.betas
    out["weight_decay"] = group.weight_decay
    out["freeze_epochs"] = group.freeze_epochs
    out["schedule"] = _schedule(group)
    return out


def _optimizer(opt: OptimizerConfig) -> dict[str, Any]:
    info = get_optimizer_info(opt.name)
    out: dict[str, Any] = {"name": opt.name}
    if opt.options:
        out["options"] = dict(opt.options)
    if opt.weight_decay_exclude:
        out["weight_decay_exclude"] = list(opt.weight_decay_exclude)
    out["groups"] = [_group(g, info.has_momentum, info.has_betas) for g in opt.groups]
    return out


def fixed_spec(spec: StudySpec, config: TrialConfig, *, name: str, description: str,
               threads: int | None = None) -> dict[str, Any]:
    """A study spec (plain data) with no search dimension that trains exactly ``config``.

    Every group gets its resolved values (absolute lr, momentum/betas, weight decay, freezing) and its own fixed
    schedule. ``task.seed`` is the trial's seed, so the new study's trial 0 trains with it; ``task.threads`` is
    the thread count the trial ran with (if the spec did not fix it), since it moves results too.
    """
    task = spec.task.model_dump(mode="json", exclude_none=True)
    task["seed"] = config.seed
    if spec.task.threads is None and threads is not None:
        task["threads"] = threads
    budget: dict[str, Any] = {"trials": 1, "epochs": config.epochs}
    if spec.budget.trial_timeout is not None:
        budget["trial_timeout"] = spec.budget.trial_timeout
    out: dict[str, Any] = {
        "name": name,
        "description": description,
        "objective": spec.objective.model_dump(mode="json"),
        "budget": budget,
        "pruner": {"name": "none"},
        "task": task,
    }
    if spec.optimizers is not None:
        out["optimizers"] = {}
        for opt in config.optimizers:
            block = _optimizer(opt)
            out["optimizers"][opt.key] = block
    else:
        (opt,) = config.optimizers
        block = _optimizer(opt)
        out["optimizer"] = {k: v for k, v in block.items() if k != "groups"}
        out["groups"] = block["groups"]
    return out


def best_yaml(best: BestTrial) -> str:
    """The fixed study of ``best`` as YAML, opening with a comment that says where it comes from."""
    spec = best.handle.spec
    name = f"{spec.name}-trial{best.number}"
    where = f"trial #{best.number} of study {spec.name!r} ({spec.objective.metric} = {best.value:.6g})"
    data = fixed_spec(spec, best.config, name=name, threads=recorded_threads(best.info.get("device")),
                      description=f"{where}, every searched setting fixed to its value")
    head = (f"# {where}: every searched setting fixed to the trial's value, and the trial's seed.\n"
            f"# run: lrsearch run best.yaml  (budget.trials > 1 retrains it with the next seeds)\n")
    return head + yaml.safe_dump(data, sort_keys=False, width=110)


def _steps_per_epoch(best: BestTrial) -> int | None:
    """The trial's recorded step count after epoch 1."""
    e = tables.epochs
    with best.handle.store.engine.connect() as conn:
        row = conn.execute(sa.select(e.c.step).where(e.c.study_name == best.handle.spec.name,
                                                     e.c.trial_number == best.number, e.c.epoch == 1)).first()
    return int(row[0]) if row else None


def _title(best: BestTrial) -> str:
    spec = best.handle.spec
    return (f"Trial #{best.number} of lrsearch study {spec.name!r} ({spec.objective.metric} = {best.value:.6g}): "
            "its optimizer, param groups and per-group schedules.")


def best_snippet(best: BestTrial, module: str = "best_trial") -> str:
    """The plain-PyTorch snippet of ``best``."""
    return pytorch_snippet(best.config, title=_title(best), steps_per_epoch=_steps_per_epoch(best),
                           batch_size=best.handle.spec.task.batch_size, module=module)


def best_keras_snippet(best: BestTrial, module: str = "best_trial") -> str:
    """The plain-Keras snippet of ``best``: a Keras optimizer with the trial's groups, for ``model.fit``."""
    from lrsearch.results._keras_snippet import keras_snippet

    return keras_snippet(best.config, title=_title(best), steps_per_epoch=_steps_per_epoch(best),
                         batch_size=best.handle.spec.task.batch_size, module=module)
