"""One LR range test: train from the task's initial weights while an lr grows exponentially, batch by batch.

Which groups move is given per spec group: a multiplier ``m`` makes the group's lr ``m * ramp(i)``, where
``ramp(i) = start * (end / start) ** (i / (iters - 1))``; ``None`` holds the group at the lr its config has.
Per-group mode moves one group with ``m = 1``; joint mode moves every group with ``m = lr_g / lr_lead`` so the
ratios between groups stay fixed. A layerwise group's layers keep their layer-decay factors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from lrsearch.errors import LrsearchError
from lrsearch.lrfind._suggest import DIVERGE_FACTOR, SMOOTH_BETA, smooth
from lrsearch.trial_config import OptimizerConfig


@dataclass
class Ramp:
    """What a range test recorded: the ramped lr, raw and smoothed loss per batch, and why it stopped.

    ``group_lrs`` holds the lr every spec group actually had at each batch, read back from the optimizer.
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    stopped: str  # "end" (all iterations ran), "diverged" (smoothed loss > 4x its best), "nan"
    group_lrs: dict[str, list[float]]


def ramp_lr(i: int, start: float, end: float, iters: int) -> float:
    return start * (end / start) ** (i / max(iters - 1, 1))


def range_test(task: Any, opt_config: OptimizerConfig, multipliers: dict[str, float | None], *, start: float,
               end: float, iters: int, batch_size: int, device: torch.device, seed: int,
               stop_div: bool = True) -> Ramp:
    """Run one range test on ``task``'s training split; the model is rebuilt from the same seed every time."""
    from lrsearch.groups import build_param_groups
    from lrsearch.optim import build_optimizer
    from lrsearch.training import batches, seed_everything

    seed_everything(seed)
    model = task.build_model().to(device)
    optimizer = build_optimizer(opt_config, build_param_groups(model, opt_config))
    held = {g.name: g.lr for g in opt_config.groups}
    unknown = sorted(set(multipliers) - set(held))
    if unknown:
        raise LrsearchError(f"no group {', '.join(map(repr, unknown))}; groups: {', '.join(held)}")
    train = batches(task.train, device, batch_size)
    if len(train) == 0:
        raise LrsearchError(f"task {task.name!r} has an empty training split")
    generator = torch.Generator().manual_seed(seed)
    lrs: list[float] = []
    losses: list[float] = []
    group_lrs: dict[str, list[float]] = {name: [] for name in held}
    stopped = "end"
    average, best = 0.0, math.inf
    model.train()
    while len(lrs) < iters and stopped == "end":
        for x, y in train.epoch(generator):
            lead = ramp_lr(len(lrs), start, end, iters)
            for pg in optimizer.param_groups:
                m = multipliers.get(pg["group"])
                lr = held[pg["group"]] if m is None else m * lead
                pg["lr"] = lr * pg.get("layer_scale", 1.0)
            seen = set()
            for pg in optimizer.param_groups:
                if pg["group"] not in seen:
                    seen.add(pg["group"])
                    group_lrs[pg["group"]].append(pg["lr"] / pg.get("layer_scale", 1.0))
            loss = task.loss(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            value = float(loss.detach())
            lrs.append(lead)
            losses.append(value)
            if not math.isfinite(value):
                stopped = "nan"
                break
            average = SMOOTH_BETA * average + (1 - SMOOTH_BETA) * value
            smoothed = average / (1 - SMOOTH_BETA ** len(losses))
            best = min(best, smoothed)
            if stop_div and smoothed > DIVERGE_FACTOR * best:
                stopped = "diverged"
                break
            if len(lrs) >= iters:
                break
    return Ramp(lrs, losses, smooth(losses), stopped, group_lrs)



def average_ramps(ramps: list[Ramp]) -> Ramp:
    """One curve from range tests run with different seeds: the mean raw loss per batch, smoothed as fastai does.

    A run that diverged or hit NaN has no points after it stopped, so the mean covers the batches every run
    reached, and the result stopped for the reason of the run that stopped first.
    """
    if len(ramps) == 1:
        return ramps[0]
    n = min(len(r.losses) for r in ramps)
    first = min(ramps, key=lambda r: len(r.losses))
    losses = [sum(r.losses[i] for r in ramps) / len(ramps) for i in range(n)]
    return Ramp(first.lrs[:n], losses, smooth(losses), first.stopped,
                {name: values[:n] for name, values in first.group_lrs.items()})
