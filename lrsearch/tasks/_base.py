"""The task protocol: what lrsearch needs to know about a model and its data to run trials on it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from lrsearch.errors import TaskError

DIRECTIONS = ("minimize", "maximize")


@dataclass(frozen=True)
class Split:
    """One split held in memory: ``x[i]`` is an input, ``y[i]`` its target.

    The managed loop batches in-memory splits itself (``torch.randperm`` on the device, no DataLoader), so keep
    the tensors small enough to sit on the training device. A ``Split`` is also a map-style ``Dataset``.
    """

    x: Tensor
    y: Tensor

    def __post_init__(self) -> None:
        if not isinstance(self.x, Tensor) or not isinstance(self.y, Tensor):
            raise TaskError(f"Split(x, y) takes two tensors, got {type(self.x).__name__} and {type(self.y).__name__}")
        if self.x.shape[0] != self.y.shape[0]:
            raise TaskError(f"Split(x, y) needs as many targets as inputs, got {self.x.shape[0]} and {self.y.shape[0]}")

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.x[index], self.y[index]


Data = Split | Dataset


def cross_entropy(outputs: Tensor, targets: Tensor) -> Tensor:
    return F.cross_entropy(outputs, targets)


def accuracy(outputs: Tensor, targets: Tensor) -> dict[str, float]:
    """``{"accuracy": share of rows whose arg-max output equals the target}``."""
    if targets.numel() == 0:
        return {"accuracy": float("nan")}
    return {"accuracy": (outputs.argmax(dim=1) == targets).float().mean().item()}


@dataclass(frozen=True)
class Task:
    """A model factory and its data: everything the managed training loop needs besides the trial's settings.

    Attributes:
        name: Shown in logs and stored with the study.
        build_model: Returns a fresh model on CPU, pretrained weights loaded, each time it is called; it must be
            deterministic given the torch seed the caller sets (draw randomness from the global generator).
        train: Training split: a :class:`Split` (in-memory tensors) or any map-style ``Dataset``.
        val: Validation split: the objective and pruning are computed on it.
        test: Held-out split, used only by confirmation runs.
        loss: ``loss(outputs, targets) -> scalar tensor``; cross-entropy by default.
        metrics: ``metrics(outputs, targets) -> {name: value}`` on the concatenated outputs of a whole split.
        metric_keys: The keys ``metrics`` returns, so the recorded columns are known before any training.
        default_objective: ``(metric name, "minimize" | "maximize")`` used when the spec names no objective.
        suggested_groups: Group name -> parameter-name globs; documentation for users writing group specs.
        info: Free-form facts (split sizes, settings) shown by ``lrsearch`` and stored with results.
    """

    name: str
    build_model: Callable[[], nn.Module]
    train: Data
    val: Data
    test: Data
    loss: Callable[[Tensor, Tensor], Tensor] = cross_entropy
    metrics: Callable[[Tensor, Tensor], dict[str, float]] = accuracy
    metric_keys: Sequence[str] = ("accuracy",)
    default_objective: tuple[str, str] = ("val_accuracy", "maximize")
    suggested_groups: dict[str, list[str]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not callable(self.build_model):
            raise TaskError(f"task {self.name!r}: build_model must be callable, got {type(self.build_model).__name__}")
        for split in ("train", "val", "test"):
            data = getattr(self, split)
            if not isinstance(data, (Split, Dataset)):
                raise TaskError(
                    f"task {self.name!r}: {split} must be a Split(x, y) or a torch Dataset, got {type(data).__name__}"
                )
        metric, direction = self.default_objective
        if direction not in DIRECTIONS:
            raise TaskError(f"task {self.name!r}: default_objective direction must be one of {DIRECTIONS}, got {direction!r}")
        if metric not in self.metric_names:
            raise TaskError(
                f"task {self.name!r}: default_objective metric {metric!r} is not recorded; "
                f"recorded metrics: {', '.join(self.metric_names)}"
            )

    @property
    def metric_names(self) -> list[str]:
        """What the managed loop records each epoch: ``train_loss``, ``val_loss`` and ``val_<key>`` per metric key.

        Confirmation runs also record ``test_loss`` and ``test_<key>``.
        """
        return ["train_loss", "val_loss", *(f"val_{key}" for key in self.metric_keys)]


# ---- option checks shared by the builtin task factories -------------------------------------------------------


def require_int(task: str, option: str, value: Any, minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` as an int within bounds, or a :class:`TaskError` naming ``task.options.<option>``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TaskError(f"task {task!r}: task.options.{option} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise TaskError(f"task {task!r}: task.options.{option} must be {bounds}, got {value}")
    return value


def require_float(task: str, option: str, value: Any, low: float, high: float) -> float:
    """``value`` as a float in ``[low, high]``, or a :class:`TaskError` naming ``task.options.<option>``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise TaskError(f"task {task!r}: task.options.{option} must be a number between {low} and {high}, got {value!r}")
    return float(value)

