"""The managed training loop: epochs of batches, per-batch schedules, freezing, evaluation, reporting."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from lrsearch.training._context import TrialContext, TrialFailed


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


class _InMemory:
    """Batches of in-memory tensors kept on the device; one index permutation per epoch, no DataLoader."""

    _cache: dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]] = {}

    def __init__(self, split: Any, device: torch.device, batch_size: int) -> None:
        key = (id(split), str(device))
        if key not in self._cache:  # tensors move to the device once per process, not once per trial
            self._cache[key] = (split.x.to(device), split.y.to(device))
        self.x, self.y = self._cache[key]
        self.batch_size = batch_size
        self.device = device

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def epoch(self, generator: torch.Generator | None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.x)
        order = torch.randperm(n, generator=generator).to(self.device) if generator is not None else None
        for start in range(0, n, self.batch_size):
            if order is None:
                yield self.x[start:start + self.batch_size], self.y[start:start + self.batch_size]
            else:
                idx = order[start:start + self.batch_size]
                yield self.x.index_select(0, idx), self.y.index_select(0, idx)


class _Loader:
    """Batches of a torch Dataset through a DataLoader."""

    def __init__(self, dataset: Any, device: torch.device, batch_size: int) -> None:
        self.dataset, self.device, self.batch_size = dataset, device, batch_size

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def epoch(self, generator: torch.Generator | None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        loader = torch.utils.data.DataLoader(self.dataset, batch_size=self.batch_size, shuffle=generator is not None,
                                             generator=generator)
        for x, y in loader:
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)


def batches(split: Any, device: torch.device, batch_size: int) -> _InMemory | _Loader:
    if hasattr(split, "x") and hasattr(split, "y"):
        return _InMemory(split, device, batch_size)
    return _Loader(split, device, batch_size)


def evaluate(model: nn.Module, data: _InMemory | _Loader, task: Any, prefix: str, autocast: bool) -> dict[str, float]:
    model.eval()
    outputs, targets = [], []
    with torch.no_grad(), torch.autocast(data.device.type, dtype=torch.bfloat16, enabled=autocast):
        for x, y in data.epoch(None):
            outputs.append(model(x).float())
            targets.append(y)
    out, tgt = torch.cat(outputs), torch.cat(targets)
    metrics = {f"{prefix}_loss": float(task.loss(out, tgt))}
    metrics.update({f"{prefix}_{k}": float(v) for k, v in task.metrics(out, tgt).items()})
    return metrics


def managed_train(ctx: TrialContext, task: Any, *, eval_batch_size: int | None = None,
                  evaluate_test: bool = False) -> dict[str, float]:
    """Train ``task``'s model as ``ctx.config`` says; report every epoch; return the last epoch's metrics."""
    device = ctx.device
    seed_everything(ctx.seed)
    from lrsearch.keras import prepare_model  # a Keras model: train()/eval() must reach its layers' training=

    model = prepare_model(task.build_model()).to(device)
    optimizer = ctx.optimizer(model)
    train = batches(task.train, device, ctx.batch_size)
    val = batches(task.val, device, eval_batch_size or max(ctx.batch_size, 256))
    scheduler = ctx.scheduler(optimizer, steps_per_epoch=len(train))
    autocast = device.type == "cuda"
    generator = torch.Generator().manual_seed(ctx.seed)
    metrics: dict[str, float] = {}
    for epoch in range(1, ctx.epochs + 1):
        model.train()
        ctx.train_mode()  # schedule-free optimizers step in train mode (a no-op for the others)
        ctx.freeze(epoch)
        total, count = torch.zeros((), device=device), 0
        for x, y in train.epoch(generator):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                loss = task.loss(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            ctx.count_step()
            total += loss.detach() * len(y)
            count += len(y)
            ctx.check_deadline()
        train_loss = float(total) / max(count, 1)
        if not math.isfinite(train_loss):
            raise TrialFailed("nan", f"training loss is {train_loss} in epoch {epoch}")
        # schedule-free optimizers evaluate at their averaged weights, with BatchNorm statistics measured there
        ctx.eval_mode(model, train.epoch(None))
        metrics = {"train_loss": train_loss, **evaluate(model, val, task, "val", autocast)}
        if evaluate_test and epoch == ctx.epochs and task.test is not None:
            metrics.update(evaluate(model, batches(task.test, device, val.batch_size), task, "test", autocast))
        ctx.report(epoch, metrics)
    return metrics
