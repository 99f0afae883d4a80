"""The torch side: one ``LRScheduler`` that drives every param group's lr, momentum/beta1 and weight decay.

It holds no references to the optimizer's param-group dicts: every step reads ``optimizer.param_groups`` anew.
``optimizer.load_state_dict`` (every checkpoint resume) and wrappers such as accelerate's replace those dicts,
and a scheduler writing into the old ones would leave the optimizer at whatever lr it had. It keeps no callables
either: its state is the step counter, so a checkpoint stores ``{"step": n, "total_steps": T}`` and the spec
rebuilds the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from lrsearch.schedules._base import ScheduleError
from lrsearch.schedules._values import CompiledSchedule

if TYPE_CHECKING:
    from lrsearch.trial_config import ScheduleConfig


class _Group:
    """Constants for one param group (by position), precomputed so that a step only multiplies and stores."""

    __slots__ = ("plan", "lr", "momentum_key", "high", "span", "beta2", "weight_decay", "momentum_moves",
                 "weight_decay_key")

    def __init__(
        self,
        param_group: Mapping[str, Any],
        plan: int,
        base: Mapping[str, Any],
        schedule: ScheduleConfig,
        index: int,
    ) -> None:
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


class GroupScheduler(LRScheduler):
    """Per-group schedules for one optimizer, stepped once per batch after ``optimizer.step()``.

    A ``torch.optim.lr_scheduler.LRScheduler``, so Lightning, Hugging Face ``Trainer`` and accelerate drive and
    checkpoint it like any torch scheduler. ``schedules[i]`` and ``base_values[i]`` belong to
    ``optimizer.param_groups[i]``. ``base_values[i]`` holds the group's configured ``lr`` (the schedule's peak)
    and optionally ``momentum`` or ``betas`` and ``weight_decay``; missing ones are read from the group at
    construction. Construction writes step 0's values into the groups, as torch schedulers do; each
    :meth:`step` advances one batch and writes the next values into whatever dicts ``optimizer.param_groups``
    holds then. Past the end of the run values hold (torch's OneCycleLR raises instead).
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
        super().__init__(optimizer)  # steps to 0: writes step 0's values
        self.base_lrs = [g.lr for g in self._groups]

    @property
    def last_step(self) -> int:
        """The batch step whose values are in the optimizer (0 right after construction)."""
        return self.last_epoch

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    def get_lr(self) -> list[float]:
        """Each group's lr at step ``last_epoch`` (torch's name for the step counter); called by ``step``."""
        groups = self.optimizer.param_groups
        if len(groups) != len(self._groups):
            raise ScheduleError(
                f"the optimizer has {len(groups)} param groups, the scheduler was built for {len(self._groups)}; "
                "build the scheduler after the last add_param_group"
            )
        values = self._values
        for i, plan in enumerate(self._plans):
            values[i] = plan.values(self.last_epoch)
        return [g.lr * values[g.plan][0] for g in self._groups]

    def step(self, epoch: int | None = None) -> None:
        """Advance one batch and write the new values into the optimizer's current param groups."""
        super().step(epoch)  # lr, through get_lr
        self._write_momentum_and_weight_decay(everything=self._step_count == 1)

    def _write_momentum_and_weight_decay(self, everything: bool) -> None:
        # Per batch only moving values are stored; constant momentum and weight decay are written when
        # ``everything`` (construction, resume).
        values = self._values
        for g, pg in zip(self._groups, self.optimizer.param_groups, strict=True):
            _, momentum_fraction, wd_factor = values[g.plan]
            if g.momentum_moves or everything:
                if g.momentum_key == "momentum":
                    pg["momentum"] = g.high - g.span * momentum_fraction
                elif g.momentum_key == "betas":
                    pg["betas"] = (g.high - g.span * momentum_fraction, g.beta2)
            if g.weight_decay_key or (everything and g.weight_decay_key is not None):
                pg["weight_decay"] = g.weight_decay * wd_factor

    def get_last_lr(self) -> list[float]:
        """Each group's current lr, read from the optimizer (torch scheduler API)."""
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
        """The step counter and the run's length: the schedules are rebuilt from the spec."""
        return {"step": self.last_epoch, "total_steps": self.total_steps}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the step counter and write that step's values into the optimizer.

        Raises:
            ScheduleError: ``state_dict`` is not a step counter, or it comes from a run of another length
                (another batch size, data size or epoch count), whose step ``n`` is another point of the schedule.
        """
        step = state_dict.get("step")
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ScheduleError(f"scheduler state needs a non-negative integer 'step', got {step!r}")
        total = state_dict.get("total_steps", self.total_steps)
        if total != self.total_steps:
            raise ScheduleError(
                f"scheduler state is from a run of {total} steps, this scheduler runs {self.total_steps} "
                f"({self.steps_per_epoch} steps an epoch x {self.epochs} epochs); resume with the batch size, "
                "data and epochs of the saved run"
            )
        self.last_epoch = step
        self._step_count = step + 1  # torch counts the construction's step too
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr
        self._last_lr = self.get_last_lr()
        self._write_momentum_and_weight_decay(everything=True)
