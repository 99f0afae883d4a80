"""Composition: a :class:`ScheduleConfig` (shape + warmup + granularity + momentum/weight-decay policies) as
pure functions of the batch step.

Exactly what happens, for a run of ``epochs`` x ``steps_per_epoch`` batches and a batch step ``step``:

1. Granularity. ``"step"``: the unit is the batch, ``u = step``, ``total = steps_per_epoch * epochs``.
   ``"epoch"``: values move only at epoch boundaries, ``u = step // steps_per_epoch``, ``total = epochs``.
   ``u`` is capped at ``total``: past the end, values hold.
2. Warmup. ``W = max(1, round(warmup * total))`` units when ``warmup > 0`` (at most ``total - 1``), else 0.
   For ``u < W`` the lr factor ramps linearly from ``warmup_start_factor`` (at ``u = 0``) towards the shape's
   first value ``shape(0, total - W)``, which it reaches at ``u = W``.
3. Shape. For ``u >= W`` the factor is ``shape(u - W, total - W)``: the shape runs over the remaining units,
   like timm ``warmup_prefix=True`` and HF's ``*_with_warmup`` schedules. Shape fractions are therefore
   fractions of the post-warmup span.

Momentum (``schedule.momentum == "inverse"``) moves between the group's momentum/beta1 (high end) and
``momentum_base`` (low end): ``high - (high - low) * fraction``. The fraction is the shape's
``momentum_fraction`` (onecycle, cyclic) or ``min(1, max(0, lr_factor))``. During warmup it is the clamped
warmed-up lr factor for the latter; for native shapes it ramps linearly from
``min(1, max(0, warmup_start_factor))`` to the shape's first fraction.

Weight decay: ``"constant"``; ``"follow_lr"``, ``wd * lr_factor``; ``"cosine"``, a half cosine over the whole
run (warmup included, same granularity) from ``wd`` to ``wd * weight_decay_end_factor``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from lrsearch.schedules._base import ScheduleError, get_shape

if TYPE_CHECKING:
    from lrsearch.trial_config import ScheduleConfig

GRANULARITIES = ("step", "epoch")
MOMENTUM_MODES = ("constant", "inverse")
WEIGHT_DECAY_MODES = ("constant", "follow_lr", "cosine")


def _clamp01(x: float) -> float:
    return min(1.0, max(0.0, x))


def schedule_problems(schedule: ScheduleConfig) -> list[tuple[str, str]]:
    """Every problem with ``schedule`` as ``(field, message)``; shape params as ``params.<name>``."""
    try:
        shape = get_shape(schedule.shape)
    except ScheduleError as exc:
        return [("shape", str(exc))]
    problems = [
        (f"params.{name}" if name else "params", msg) for name, msg in shape.problems(schedule.params)
    ]
    for name, value, allowed in (
        ("granularity", schedule.granularity, GRANULARITIES),
        ("momentum", schedule.momentum, MOMENTUM_MODES),
        ("weight_decay", schedule.weight_decay, WEIGHT_DECAY_MODES),
    ):
        if value not in allowed:
            problems.append((name, f"must be one of {', '.join(allowed)}, got {value!r}"))
    if not 0.0 <= schedule.warmup < 1.0:
        problems.append(("warmup", f"must be >= 0 and < 1 (a fraction of the run), got {schedule.warmup!r}"))
    if not 0.0 <= schedule.warmup_start_factor <= 1.0:
        problems.append(
            ("warmup_start_factor", f"must be >= 0 and <= 1, got {schedule.warmup_start_factor!r}")
        )
    if not 0.0 <= schedule.momentum_base < 1.0:
        problems.append(("momentum_base", f"must be >= 0 and < 1, got {schedule.momentum_base!r}"))
    if schedule.weight_decay_end_factor < 0.0:
        problems.append(
            ("weight_decay_end_factor", f"must be >= 0, got {schedule.weight_decay_end_factor!r}")
        )
    return problems


class CompiledSchedule:
    """A schedule resolved for one run: shape looked up, params validated, step counts precomputed.

    ``values(step)`` gives ``(lr_factor, momentum_fraction, weight_decay_factor)`` and memoises the last unit,
    so epoch-granularity schedules compute once per epoch.
    """

    __slots__ = (
        "schedule",
        "params",
        "total",
        "warmup_steps",
        "_factor",
        "_momentum_fraction",
        "_steps_per_unit",
        "_span",
        "_warmup_start",
        "_warmup_target",
        "_momentum_start",
        "_momentum_target",
        "_wd_mode",
        "_wd_end",
        "_last_unit",
        "_last_values",
    )

    def __init__(self, schedule: ScheduleConfig, steps_per_epoch: int, epochs: int) -> None:
        if steps_per_epoch < 1 or epochs < 1:
            raise ScheduleError(f"steps_per_epoch and epochs must be >= 1, got {steps_per_epoch=}, {epochs=}")
        problems = schedule_problems(schedule)
        if problems:
            raise ScheduleError("invalid schedule: " + "; ".join(f"{path}: {msg}" for path, msg in problems))
        shape = get_shape(schedule.shape)
        self.schedule = schedule
        self.params: dict[str, Any] = shape.resolve(schedule.params)
        by_epoch = schedule.granularity == "epoch"
        self._steps_per_unit = steps_per_epoch if by_epoch else 1
        self.total = epochs if by_epoch else steps_per_epoch * epochs
        warmup = max(1, round(schedule.warmup * self.total)) if schedule.warmup > 0 else 0
        self.warmup_steps = min(warmup, self.total - 1)
        self._span = self.total - self.warmup_steps
        self._factor = shape.factor
        self._momentum_fraction = shape.momentum_fraction  # None: derived from the lr factor
        self._warmup_start = schedule.warmup_start_factor
        self._warmup_target = shape.factor(0, self._span, **self.params)
        self._momentum_start = _clamp01(schedule.warmup_start_factor)
        self._momentum_target = shape.momentum_fraction_at(0, self._span, **self.params)
        self._wd_mode = schedule.weight_decay
        self._wd_end = schedule.weight_decay_end_factor
        self._last_unit = -1
        self._last_values = (1.0, 0.0, 1.0)

    def values(self, step: int) -> tuple[float, float, float]:
        """``(lr_factor, momentum_fraction, weight_decay_factor)`` at batch ``step``."""
        u = min(step // self._steps_per_unit, self.total)
        if u == self._last_unit:
            return self._last_values
        w = self.warmup_steps
        if u < w:
            lr = self._warmup_start + (self._warmup_target - self._warmup_start) * u / w
            if self._momentum_fraction is None:
                mom = _clamp01(lr)
            else:
                mom = self._momentum_start + (self._momentum_target - self._momentum_start) * u / w
        else:
            lr = self._factor(u - w, self._span, **self.params)
            if self._momentum_fraction is None:
                mom = _clamp01(lr)
            else:
                mom = self._momentum_fraction(u - w, self._span, **self.params)
        if self._wd_mode == "follow_lr":
            wd = lr
        elif self._wd_mode == "cosine":
            wd = self._wd_end + (1.0 - self._wd_end) * (1.0 + math.cos(math.pi * u / self.total)) / 2.0
        else:
            wd = 1.0
        self._last_unit = u
        self._last_values = (lr, mom, wd)
        return self._last_values


def compile_schedule(schedule: ScheduleConfig, steps_per_epoch: int, epochs: int) -> CompiledSchedule:
    """Resolve ``schedule`` for a run; raises :class:`ScheduleError` listing every problem."""
    return CompiledSchedule(schedule, steps_per_epoch, epochs)


def lr_factor(schedule: ScheduleConfig, step: int, steps_per_epoch: int, epochs: int) -> float:
    """The lr multiplier at batch ``step`` (0-based; step 0 is before the first optimizer step)."""
    return CompiledSchedule(schedule, steps_per_epoch, epochs).values(step)[0]


def momentum_value(
    schedule: ScheduleConfig, base_momentum_high: float, step: int, steps_per_epoch: int, epochs: int
) -> float:
    """Momentum (or beta1) at batch ``step``: constant, or moving inversely to the lr (see module doc)."""
    if schedule.momentum == "constant":
        return base_momentum_high
    fraction = CompiledSchedule(schedule, steps_per_epoch, epochs).values(step)[1]
    return base_momentum_high - (base_momentum_high - schedule.momentum_base) * fraction


def weight_decay_value(
    schedule: ScheduleConfig, weight_decay: float, step: int, steps_per_epoch: int, epochs: int
) -> float:
    """Weight decay at batch ``step`` under ``schedule.weight_decay`` (constant, follow_lr or cosine)."""
    return weight_decay * CompiledSchedule(schedule, steps_per_epoch, epochs).values(step)[2]
