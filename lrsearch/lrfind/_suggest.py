"""fastai's learning-rate suggestions, on a recorded range test (``fastai/callback/schedule.py``).

The range test records, after every batch, the lr used and the *smoothed* training loss: fastai's
``AvgSmoothLoss``, an exponential moving average with ``beta = 0.98`` debiased by ``1 - beta**n``. It stops once
the smoothed loss exceeds 4x the best smoothed loss seen (``stop_div``). Before suggesting, fastai drops the
first ``num_it // 10`` points and the last 5, and everything from the first NaN on. The suggestions:

- ``valley``: the longest valley, i.e. the longest strictly decreasing subsequence of the loss (fastai's
  ``lds`` dynamic programme), and the lr about halfway along it (``start + int(len/3) + int(len/6)``);
  fastai's default.
- ``steep``: the lr where the loss falls fastest per unit of log lr (the arg-min of the finite differences).
- ``minimum``: the lr of the minimum loss, divided by 10.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

SMOOTH_BETA = 0.98
DIVERGE_FACTOR = 4.0
SKIP_END = 5


@dataclass(frozen=True)
class Suggestion:
    """A suggested lr, and the curve point it was read from (for plots): ``(lr_at, loss_at)``."""

    name: str
    lr: float
    lr_at: float
    loss_at: float


def marker_point(lrs: Sequence[float], losses: Sequence[float], suggestion: Suggestion) -> tuple[float, float]:
    """Where a plot marks ``suggestion``: at the lr it names, on the curve there (``minimum`` names a tenth of
    the lr of the lowest loss, so its marker is not at the lowest point)."""
    x = suggestion.lr
    points = [(math.log(lr), loss) for lr, loss in zip(lrs, losses, strict=False) if lr > 0 and loss == loss]
    if not points:
        return x, suggestion.loss_at
    lx = math.log(x)
    if lx <= points[0][0]:
        return x, points[0][1]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        if x0 <= lx <= x1:
            return x, y0 if x1 == x0 else y0 + (y1 - y0) * (lx - x0) / (x1 - x0)
    return x, points[-1][1]


def smooth(losses: Sequence[float], beta: float = SMOOTH_BETA) -> list[float]:
    """fastai's ``AvgSmoothLoss``: ``val = beta * val + (1 - beta) * loss``, reported as ``val / (1 - beta**n)``."""
    out, val = [], 0.0
    for n, loss in enumerate(losses, start=1):
        val = beta * val + (1 - beta) * loss
        out.append(val / (1 - beta**n))
    return out


def trimmed(lrs: Sequence[float], smoothed: Sequence[float], num_it: int) -> tuple[list[float], list[float]]:
    """The points fastai suggests from: ``[num_it // 10 : -5]``, cut at the first NaN."""
    lrs, losses = list(lrs[num_it // 10:-SKIP_END]), list(smoothed[num_it // 10:-SKIP_END])
    for i, loss in enumerate(losses):
        if math.isnan(loss):
            return lrs[:i], losses[:i]
    return lrs, losses


def valley(lrs: Sequence[float], losses: Sequence[float]) -> Suggestion | None:
    n = len(losses)
    if n < 2:
        return None
    max_start, max_end = 0, 0
    lds = [1] * n  # length of the longest decreasing subsequence ending at i
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return Suggestion("valley", float(lrs[idx]), float(lrs[idx]), float(losses[idx]))


def steep(lrs: Sequence[float], losses: Sequence[float]) -> Suggestion | None:
    if len(losses) < 2:
        return None
    grads = [(losses[i + 1] - losses[i]) / (math.log(lrs[i + 1]) - math.log(lrs[i])) for i in range(len(lrs) - 1)]
    i = min(range(len(grads)), key=grads.__getitem__)
    return Suggestion("steep", float(lrs[i]), float(lrs[i]), float(losses[i]))


def minimum(lrs: Sequence[float], losses: Sequence[float]) -> Suggestion | None:
    if not losses:
        return None
    i = min(range(len(losses)), key=losses.__getitem__)
    return Suggestion("minimum", float(lrs[i]) / 10, float(lrs[i]), float(losses[i]))


SUGGESTERS: dict[str, Callable[[Sequence[float], Sequence[float]], Suggestion | None]] = {
    "valley": valley,
    "steep": steep,
    "minimum": minimum,
}


def suggest(lrs: Sequence[float], smoothed: Sequence[float], num_it: int) -> dict[str, Suggestion]:
    """Every suggestion that the recorded curve allows (none when too few points survive the trimming)."""
    xs, ys = trimmed(lrs, smoothed, num_it)
    found = {name: fn(xs, ys) for name, fn in SUGGESTERS.items()}
    return {name: s for name, s in found.items() if s is not None}
