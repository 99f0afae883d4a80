"""Every group's lr, momentum/beta1 and weight decay at every step of a run, as arrays the optimizer indexes.

A Keras optimizer's update runs compiled (``jax.jit``, ``tf.function``), where lrsearch's Python shape functions
cannot run on the traced step counter. So the values are computed here, before training, by the same
:class:`~lrsearch.schedules.GroupScheduler` that drives torch param groups (one source for the arithmetic), and
the optimizer looks them up with its ``iterations`` counter: row ``i`` holds the values the update of step ``i``
(0-based) uses, and the last row (step ``steps_per_epoch * epochs``) repeats forever after, as values hold past
the end of a run.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from lrsearch.schedules import GroupScheduler
from lrsearch.space import ScheduleConfig


def schedule_config(data: Mapping[str, Any]) -> ScheduleConfig:
    """A :class:`ScheduleConfig` from its dict (as ``dataclasses.asdict`` wrote it into a Keras config)."""
    return ScheduleConfig(**{**data, "params": dict(data.get("params") or {})})


def group_tables(groups: Sequence[Mapping[str, Any]], steps_per_epoch: int, epochs: int) -> np.ndarray:
    """``(len(groups), 3, steps_per_epoch * epochs + 1)`` float64: lr, momentum (or beta1), weight decay.

    Each group is a dict with ``lr``, ``momentum`` (beta1 for Adam-type optimizers; None for none),
    ``weight_decay`` and ``schedule`` (a :class:`ScheduleConfig` as a dict). A group without momentum gets 0.
    """
    param_groups = []
    for g in groups:
        pg: dict[str, Any] = {"lr": float(g["lr"]), "weight_decay": float(g["weight_decay"])}
        if g.get("momentum") is not None:
            pg["momentum"] = float(g["momentum"])
        param_groups.append(pg)
    schedules = [schedule_config(g["schedule"]) for g in groups]
    bases = [dict(pg) for pg in param_groups]
    holder = _GroupHolder(param_groups)
    with warnings.catch_warnings():
        # No optimizer step happens here: only the scheduler's values are read, step by step.
        warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step()` before")
        scheduler = GroupScheduler(holder, schedules, bases, steps_per_epoch=steps_per_epoch, epochs=epochs)
        total = steps_per_epoch * epochs
        table = np.zeros((len(groups), 3, total + 1))
        for step in range(total + 1):
            for i, pg in enumerate(holder.param_groups):
                table[i, 0, step] = pg["lr"]
                table[i, 1, step] = pg.get("momentum", 0.0)
                table[i, 2, step] = pg["weight_decay"]
            if step < total:
                scheduler.step()
    return table


class _GroupHolder(torch.optim.Optimizer):
    """Param groups with one placeholder tensor each and no defaults of its own: what the scheduler (a torch
    ``LRScheduler``) drives, so the Keras tables come from the very code that drives torch's groups."""

    def __init__(self, groups: list[dict[str, Any]]) -> None:
        super().__init__([{"params": [torch.zeros(1)], **g} for g in groups], defaults={})

    def step(self, closure: Any = None) -> None:  # pragma: no cover - never called: no parameters are trained
        return None
