"""An own loop with task.options as keyword arguments, data loaded once per worker process (``ctx.cache``), and
a model builder for ``task.model``, so that ``lrsearch validate --model`` checks the groups before any trial::

    task:
      train: examples.digits_options_loop:train
      model: examples.digits_options_loop:build_model
      options: {width: 32, n_train: 1000}       # train(ctx, width=32, n_train=1000); build_model(width=32)
"""

from __future__ import annotations

import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

from lrsearch import TrialContext
from lrsearch.tasks import load_task


def build_model(width: int = 16) -> nn.Module:
    """Parameter names ``body.0.*`` and ``head.*``, as the test studies' groups expect."""
    return _Net(width)


class _Net(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, width), nn.ReLU())
        self.head = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x.flatten(1)))


def _load_data(n_train: int) -> tuple[torch.Tensor, ...]:
    # Goes to the log of the trial that loads it (the first one of each worker process).
    print(f"loading digits, n_train={n_train}, in process {os.getpid()}", file=sys.stderr, flush=True)
    task = load_task("digits", None, {})
    return task.train.x[:n_train], task.train.y[:n_train], task.val.x, task.val.y


def train(ctx: TrialContext, *, width: int = 16, n_train: int = 1000) -> dict[str, float]:
    x, y, val_x, val_y = ctx.cache(("digits", n_train), lambda: _load_data(n_train))
    model = build_model(width)
    optimizer = ctx.optimizer(model)
    batches = range(0, len(x), ctx.batch_size)
    scheduler = ctx.scheduler(optimizer, steps_per_epoch=len(batches))
    for epoch in range(1, ctx.epochs + 1):
        ctx.freeze(epoch)
        for start in batches:
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[start:start + ctx.batch_size]), y[start:start + ctx.batch_size]).backward()
            optimizer.step()
            scheduler.step()
        with torch.no_grad():
            accuracy = float((model(val_x).argmax(1) == val_y).float().mean())
        ctx.report(epoch, {"val_accuracy": accuracy, "n_train": float(len(x)), "width": float(width)})
    return {}
