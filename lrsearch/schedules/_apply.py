"""The torch side: one scheduler that drives every param group's lr, momentum/beta1 and weight decay.

Unlike torch's schedulers it keeps no callables and no per-group state beyond constants: the only state is the
step counter, so a checkpoint stores ``{"step": n}`` and the spec rebuilds the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lrsearch.schedules._base import ScheduleError
from lrsearch.schedules._values import CompiledSchedule

if TYPE_CHECKING:
    import torch

    from lrsearch.trial_config import ScheduleConfig


class _Group:
    """Constants for one param group, precomputed so that a step only multiplies and stores."""

    __slots__ = (
        "param_group",
        "plan",
        "lr",
        "momentum_key",
        "high",
        "span",
        "beta2",
        "weight_decay",
        "momentum_moves",
        "weight_decay_key",
    )

    def __init__(
        self,
        param_group: dict[str, Any],
        plan: int,
        base: Mapping[str, Any],
        schedule: ScheduleConfig,
        index: int,
    ) -> None:
        self.param_group = param_group
        self.plan = plan
        if "lr" not in base:
            raise ScheduleError(f"base_values[{index}] has no 'lr'")
        self.lr = float(base["lr"])
        # Which key carries momentum decides what we write: SGD/RMSprop "momentum", Adam-family "betas".
        self.momentum_key: str | None = None
        self.high = self.span = self.beta2 = 0.0
        if "betas" in param_group:
            beta1, self.beta2 = base.get("betas") or param_group["betas"]
            self.momentum_key, self.high = "betas", float(beta1)
        elif "momentum" in param_group:
            self.momentum_key = "momentum"
            self.high = float(
                base["momentum"] if base.get("momentum") is not None else param_group["momentum"]
            )
        elif schedule.momentum != "constant":
            raise ScheduleError(
                f"param group {index}: schedule momentum {schedule.momentum!r} needs an optimizer with "
                "momentum or betas; this one has neither"
            )
        self.momentum_moves = schedule.momentum != "constant" and self.momentum_key is not None
        self.span = self.high - schedule.momentum_base if self.momentum_moves else 0.0
        wd = base.get("weight_decay")
        self.weight_decay = float(wd if wd is not None else param_group.get("weight_decay", 0.0))
        # None: the optimizer has no weight decay; "" : constant, written once at construction.
        has_wd = "weight_decay" in param_group
        self.weight_decay_key = (
            ("weight_decay" if schedule.weight_decay != "constant" else "") if has_wd else None
        )


class GroupScheduler:
    """Per-group schedules for one optimizer, stepped once per batch after ``optimizer.step()``.

    ``schedules[i]`` and ``base_values[i]`` belong to ``optimizer.param_groups[i]``. ``base_values[i]`` holds
    the group's configured ``lr`` (the schedule's peak) and optionally ``momentum`` or ``betas`` and
    ``weight_decay``; missing ones are read from the group at construction. Construction writes step 0's
    values into the groups, as torch schedulers do; each :meth:`step` advances one batch and writes the next
    values. Past the end of the run values hold (torch's OneCycleLR raises instead).
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedules: Sequence[ScheduleConfig],
        base_values: Sequence[Mapping[str, Any]],
        steps_per_epoch: int,
        epochs: int,
    ) -> None:
        n = len(optimizer.param_groups)
        if len(schedules) != n or len(base_values) != n:
            raise ScheduleError(
                f"need one schedule and one base_values entry per param group ({n}), "
                f"got {len(schedules)} and {len(base_values)}"
            )
        self.optimizer = optimizer
        self.steps_per_epoch = steps_per_epoch
        self.epochs = epochs
        # Groups that share a schedule share one plan, so each distinct schedule is evaluated once per step.
        self._plans: list[CompiledSchedule] = []
        plan_index: dict[str, int] = {}
        self._groups: list[_Group] = []
        for i, (group, schedule, base) in enumerate(
            zip(optimizer.param_groups, schedules, base_values, strict=True)
        ):
            key = repr(schedule)
            if key not in plan_index:
                plan_index[key] = len(self._plans)
                self._plans.append(CompiledSchedule(schedule, steps_per_epoch, epochs))
            self._groups.append(_Group(group, plan_index[key], base, schedule, i))
        self._values: list[tuple[float, float, float]] = [(1.0, 0.0, 1.0)] * len(self._plans)
        self._step = 0
        self._apply(everything=True)

    @property
    def last_step(self) -> int:
        """The batch step whose values are in the optimizer (0 right after construction)."""
        return self._step

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    def step(self) -> None:
        """Advance one batch and write the new values into the optimizer's param groups."""
        self._step += 1
        self._apply()

    def _apply(self, everything: bool = False) -> None:
        # Per batch: one evaluation per distinct schedule, then a multiply and a store per moving value;
        # constant momentum and weight decay are written only when ``everything`` (construction, resume).
        step, values = self._step, self._values
        for i, plan in enumerate(self._plans):
            values[i] = plan.values(step)
        for g in self._groups:
            lr_factor, momentum_fraction, wd_factor = values[g.plan]
            pg = g.param_group
            pg["lr"] = g.lr * lr_factor
            if g.momentum_moves or everything:
                if g.momentum_key == "momentum":
                    pg["momentum"] = g.high - g.span * momentum_fraction
                elif g.momentum_key == "betas":
                    pg["betas"] = (g.high - g.span * momentum_fraction, g.beta2)
            if g.weight_decay_key or (everything and g.weight_decay_key is not None):
                pg["weight_decay"] = g.weight_decay * wd_factor

    def get_last_lr(self) -> list[float]:
        """Each group's current lr (torch scheduler API)."""
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def current_values(self) -> list[dict[str, float]]:
        """Each group's effective lr, momentum or beta1 (where the optimizer has them) and weight decay."""
        out = []
        for g in self.optimizer.param_groups:
            values = {"lr": float(g["lr"])}
            if "momentum" in g:
                values["momentum"] = float(g["momentum"])
            if "betas" in g:
                values["beta1"] = float(g["betas"][0])
            if "weight_decay" in g:
                values["weight_decay"] = float(g["weight_decay"])
            out.append(values)
        return out

    def state_dict(self) -> dict[str, int]:
        """Only the step counter: the schedules are rebuilt from the spec."""
        return {"step": self._step}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the step counter and write that step's values into the optimizer."""
        step = state.get("step")
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ScheduleError(f"scheduler state needs a non-negative integer 'step', got {step!r}")
        self._step = step
        self._apply(everything=True)
