"""An own-loop ``task.train`` whose trials take a while without using the CPU: each epoch sleeps, then reports.

Long enough for a test to interrupt a trial in the middle (``scancel``, a requeue), cheap enough for many
workers on a loaded machine. ``LRSEARCH_TEST_EPOCH_S`` sets the seconds an epoch sleeps (default 1).

``LRSEARCH_TEST_RENDEZVOUS=FOLDER:N`` makes a trial wait, before its first epoch, until trials of N different
worker processes have started: with N workers and at least N trials, every worker must take a trial, however
late a loaded machine starts one of them (without it, the first worker up may run them all).
"""

from __future__ import annotations

import math
import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

RENDEZVOUS_GUARD_S = 600.0  # only a deadlock guard: a worker that never starts fails the trial, not the suite


def _rendezvous(setting: str) -> None:
    folder, _, count = setting.rpartition(":")
    here = Path(folder)
    here.mkdir(parents=True, exist_ok=True)
    (here / str(os.getpid())).touch()
    deadline = time.monotonic() + RENDEZVOUS_GUARD_S
    while len(list(here.iterdir())) < int(count):
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(list(here.iterdir()))} of {count} worker processes started a trial")
        time.sleep(0.05)


def rendezvous_env(folder: Path, workers: int, epoch_s: float = 0.1) -> dict[str, str]:
    """The environment of a run whose sleepy trials wait for ``workers`` worker processes (and can import this
    module from the checkout)."""
    root = Path(__file__).resolve().parents[2]
    return {"PYTHONPATH": str(root), "LRSEARCH_TEST_RENDEZVOUS": f"{folder}:{workers}",
            "LRSEARCH_TEST_EPOCH_S": str(epoch_s)}


def train(ctx: Any) -> dict[str, float]:
    from torch import nn

    model = nn.Sequential(OrderedDict(body=nn.Linear(2, 2), head=nn.Linear(2, 1)))
    ctx.optimizer(model)
    seconds = float(os.environ.get("LRSEARCH_TEST_EPOCH_S", "1"))
    lrs = [g.lr for g in ctx.config.groups()]
    metrics: dict[str, float] = {}
    if os.environ.get("LRSEARCH_TEST_RENDEZVOUS"):
        _rendezvous(os.environ["LRSEARCH_TEST_RENDEZVOUS"])
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
