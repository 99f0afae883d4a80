"""Entrypoints for the registry tests, loaded as ``tests.tasks.sample_task:<name>``."""

from __future__ import annotations

import torch
from torch import nn

from lrsearch.tasks import Split, Task
from lrsearch.tasks._digits import digits_tensors

BUILDS = {"count": 0}
NOT_CALLABLE = 3


def build(size: int = 60, hidden: int = 8) -> Task:
    """The first ``size`` digits, split 3 ways, and a two-layer MLP (``body.*`` + ``head.*``)."""
    BUILDS["count"] += 1
    x, y = digits_tensors()
    x, y = x[:size].flatten(1), y[:size]
    third = size // 3

    def model() -> nn.Module:
        return nn.Sequential(
            nn.Sequential(nn.Linear(64, hidden), nn.ReLU()),
            nn.Linear(hidden, 10),
        )

    return Task(
        name="sample",
        build_model=model,
        train=Split(x[:third], y[:third]),
        val=Split(x[third : 2 * third], y[third : 2 * third]),
        test=torch.utils.data.TensorDataset(x[2 * third :], y[2 * third :]),
        suggested_groups={"body": ["0.*"], "head": ["1.*"]},
        info={"size": size, "hidden": hidden},
    )


def build_anything(**options: object) -> Task:
    return build(size=int(options.get("size", 60)))  # type: ignore[arg-type]


def needs_size(size: int) -> Task:
    return build(size=size)


def not_a_task() -> int:
    return 42
