"""An own-loop ``task.train`` whose trials take a while without using the CPU: each epoch sleeps, then reports.

Long enough for a test to interrupt a trial in the middle (``scancel``, a requeue), cheap enough for many
workers on a loaded machine. ``LRSEARCH_TEST_EPOCH_S`` sets the seconds an epoch sleeps (default 1).
"""

from __future__ import annotations

import math
import os
import time
from collections import OrderedDict
from typing import Any


def train(ctx: Any) -> dict[str, float]:
    from torch import nn

    model = nn.Sequential(OrderedDict(body=nn.Linear(2, 2), head=nn.Linear(2, 1)))
    ctx.optimizer(model)
    seconds = float(os.environ.get("LRSEARCH_TEST_EPOCH_S", "1"))
    lrs = [g.lr for g in ctx.config.groups()]
    metrics: dict[str, float] = {}
    for epoch in range(1, ctx.epochs + 1):
        time.sleep(seconds)
        metrics = {"score": sum((math.log10(lr) + 2.0) ** 2 for lr in lrs) + 1.0 / epoch}
        ctx.report(epoch, metrics)
    return metrics


def sleepy_spec(name: str, trials: int, epochs: int = 3) -> dict[str, Any]:
    return {
        "name": name,
        "objective": {"metric": "score", "direction": "minimize"},
        "budget": {"trials": trials, "epochs": epochs},
        "sampler": {"name": "tpe", "seed": 0},
        "pruner": {"name": "none"},
        "task": {"train": "tests.fixtures_tasks.sleepy:train", "device": "cpu", "threads": 1},
        "optimizer": {"name": "sgd"},
        "groups": [
            {"name": "head", "params": ["head.*"], "lr": {"low": 1e-4, "high": 1.0, "log": True}},
            {"name": "body", "rest": True, "lr": {"low": 1e-4, "high": 1.0, "log": True}},
        ],
    }
