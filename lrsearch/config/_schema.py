"""The study spec (``study.yaml``) as pydantic models. Unknown keys are rejected everywhere.

Field-level checks live here; checks that need a registry (shapes, optimizers, samplers, pruners) or span
several fields (``ratio_of`` references) live in :mod:`lrsearch.config._semantics`.
"""

from __future__ import annotations

import re
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from lrsearch.config._dims import Dim, LrDim
from lrsearch.durations import parse_duration
from lrsearch.schedules import GRANULARITIES, MOMENTUM_MODES, WEIGHT_DECAY_MODES
from lrsearch.trial_config import membership_problem

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # Pydantic takes true/false as 1/0 for a number; in a study file `trials: true` is a mistake, not 1.
        if isinstance(value, bool) and info.field_name and _is_number(cls.model_fields[info.field_name].annotation):
            raise ValueError(f"must be a number, got {str(value).lower()}")
        return value


def _is_number(annotation: Any) -> bool:
    """Whether a field's type is int or float (optionally with None), and not bool."""
    args = [a for a in get_args(annotation) if a is not type(None)] if get_origin(annotation) in (Union, UnionType) \
        else [annotation]
    return bool(args) and all(a in (int, float) for a in args)


class Objective(_Strict):
    metric: str = "val_accuracy"
    direction: Literal["minimize", "maximize"] = "maximize"


class Budget(_Strict):
    trials: int | None = Field(default=None, ge=1)
    timeout: float | None = None
    epochs: int = Field(ge=1)
    trial_timeout: float | None = None

    @field_validator("timeout", "trial_timeout", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float | None:
        return parse_duration(v)

    @model_validator(mode="after")
    def _some_limit(self) -> Budget:
        if self.trials is None and self.timeout is None:
            raise ValueError("give trials, timeout, or both, so the study knows when to stop")
        return self


class SamplerSpec(_Strict):
    name: str = "tpe"
    seed: int | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class PrunerSpec(_Strict):
    name: str = "median"
    options: dict[str, Any] = Field(default_factory=dict)
    # Compare a trial only with trials whose schedule shapes are the same (see lrsearch.pruning).
    by_shape: bool = False


class ConfirmSpec(_Strict):
    top: int = Field(default=3, ge=1)
    seeds: int = Field(default=3, ge=1)


class RecipeSpec(_Strict):
    """A named configuration tried before the sampler's own trials: values for some dimensions; the rest take
    the centre of their range (see :mod:`lrsearch.search`)."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _recipe_name(cls, v: str) -> str:
        if not _NAME.match(v.replace(".", "_")):
            raise ValueError(f"must be a plain name (letters, digits, _, - and .), got {v!r}")
        return v


class SearchStrategySpec(_Strict):
    """How the study searches: which recipes it starts from, and whether it searches in stages.

    ``recipes``: ``auto`` (the builtin recipes that fit the space), ``none``, or a list of builtin recipe
    names and ``{name, params}`` mappings. ``strategy``: ``joint`` (every dimension at once) or ``staged``
    (stage 1 searches the single-lr space; stage 2 fixes what stage 1 found best and searches the per-group
    dimensions). ``stage1``: stage 1's share of the study's budget: it ends once its trials reach that share of
    ``budget.trials`` or of the epochs those trials could use (``budget.trials * budget.epochs``, pruned epochs
    included), whichever comes first (with pruning, the trials run out first). ``stage1_epochs``: end stage 1
    after exactly this many epochs instead (the benchmarks give every search the same epochs).
    """

    recipes: Literal["auto", "none"] | list[str | RecipeSpec] = "auto"
    strategy: Literal["joint", "staged"] = "joint"
    stage1: float = Field(default=0.5, gt=0.0, lt=1.0)
    stage1_epochs: int | None = Field(default=None, ge=1)


class TaskSpec(_Strict):
    builtin: str | None = None
    entrypoint: str | None = None  # "module:function" returning a Task
    train: str | None = None  # "module:function(ctx)": the user's own training loop
    options: dict[str, Any] = Field(default_factory=dict)
    batch_size: int = Field(default=64, ge=1)
    eval_batch_size: int | None = Field(default=None, ge=1)
    device: str = "auto"
    seed: int = 0
    threads: int | None = Field(default=None, ge=1)
    model: str | None = None  # "module:function" building an own loop's model, for `lrsearch validate --model`

    @model_validator(mode="after")
    def _one_source(self) -> TaskSpec:
        given = [k for k in ("builtin", "entrypoint", "train") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of builtin (a builtin task name), entrypoint ('module:function' returning a "
                f"Task) or train ('module:function' running your own loop); got {given or 'none'}"
            )
        if self.model and not self.train:
            raise ValueError("model ('module:function' building the model) is for own loops (task.train); a "
                             f"{given[0]} task builds its model itself")
        return self

    @field_validator("entrypoint", "train", "model")
    @classmethod
    def _ref(cls, v: str | None) -> str | None:
        if v and not re.match(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", v):
            raise ValueError(f"must look like 'package.module:function', got {v!r}")
        return v

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if not re.match(r"^(auto|cpu|cuda(:\d+)?|mps)$", v):
            raise ValueError(f"must be auto, cpu, cuda, cuda:N or mps, got {v!r}")
        return v


class LayerwiseSpec(_Strict):
    pattern: str
    decay: Dim


class ScheduleSpec(_Strict):
    shape: Dim = Field(default_factory=lambda: Dim(value="constant"))
    params: dict[str, dict[str, Dim]] = Field(default_factory=dict)
    warmup: Dim = Field(default_factory=lambda: Dim(value=0.0))
    warmup_start_factor: float = Field(default=0.0, ge=0.0, le=1.0)
    granularity: Literal[GRANULARITIES] = "step"  # type: ignore[valid-type]
    momentum: Literal[("auto", *MOMENTUM_MODES)] = "auto"  # type: ignore[valid-type]
    momentum_base: Dim = Field(default_factory=lambda: Dim(value=0.85))
    weight_decay: Literal[WEIGHT_DECAY_MODES] = "constant"  # type: ignore[valid-type]
    weight_decay_end_factor: Dim = Field(default_factory=lambda: Dim(value=1.0))
    per_group: bool = False

    @field_validator("shape", mode="before")
    @classmethod
    def _shape_list(cls, v: Any) -> Any:
        return {"choices": v} if isinstance(v, list) else v


class GroupSpec(_Strict):
    name: str
    params: list[str] | None = None
    rest: bool = False
    layerwise: LayerwiseSpec | None = None
    lr: LrDim | None = None
    momentum: Dim | None = None
    beta1: Dim | None = None
    beta2: Dim | None = None
    weight_decay: Dim = Field(default_factory=lambda: Dim(value=0.0))
    freeze_epochs: Dim = Field(default_factory=lambda: Dim(value=0))
    schedule: ScheduleSpec | None = None

    @field_validator("params", mode="before")
    @classmethod
    def _one_pattern(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"must be a plain identifier (letters, digits, _ and -; no dots), got {v!r}")
        return v

    @model_validator(mode="after")
    def _membership(self) -> GroupSpec:
        problem = membership_problem(params=self.params is not None, rest=self.rest, layerwise=self.layerwise is not None)
        if problem:
            raise ValueError(problem)
        if self.params is not None and not self.params:
            raise ValueError("params must list at least one pattern")
        if self.lr is None:
            raise ValueError("lr is required: a value, a range {low, high, log: true}, or {ratio_of: GROUP, ...}")
        return self


class OptimizerSpec(_Strict):
    name: Dim = Field(default_factory=lambda: Dim(value="adamw"))
    options: dict[str, Any] = Field(default_factory=dict)
    weight_decay_exclude: list[str] = Field(default_factory=list)

    @field_validator("name", mode="before")
    @classmethod
    def _name_list(cls, v: Any) -> Any:
        return {"choices": v} if isinstance(v, list) else v


class OptimizerBlock(OptimizerSpec):
    """One of several named optimizers (``optimizers: {generator: {...}, discriminator: {...}}``)."""

    groups: list[GroupSpec]
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)


class TrackerSpec(_Strict):
    """An experiment tracker that gets every trial's params and per-epoch metrics and group values."""

    name: str  # a registered tracker: mlflow, tensorboard
    options: dict[str, Any] = Field(default_factory=dict)


class StudySpec(_Strict):
    name: str
    description: str = ""
    storage: str | None = None
    objective: Objective = Field(default_factory=Objective)
    budget: Budget
    sampler: SamplerSpec = Field(default_factory=SamplerSpec)
    pruner: PrunerSpec = Field(default_factory=PrunerSpec)
    confirm: ConfirmSpec | None = None
    search: SearchStrategySpec = Field(default_factory=SearchStrategySpec)
    task: TaskSpec
    optimizer: OptimizerSpec | None = None
    groups: list[GroupSpec] | None = None
    schedule: ScheduleSpec | None = None
    optimizers: dict[str, OptimizerBlock] | None = None
    # Modules imported before the rest of the spec is checked: they may register optimizers, shapes, tasks.
    plugins: list[str] = Field(default_factory=list)
    trackers: list[TrackerSpec] = Field(default_factory=list)

    @field_validator("plugins")
    @classmethod
    def _plugins(cls, v: list[str]) -> list[str]:
        for name in v:
            if not re.match(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*$", name):
                raise ValueError(f"each plugin is a module to import, like 'my_pkg.optimizers', got {name!r}")
        return v

    @field_validator("trackers", mode="before")
    @classmethod
    def _tracker_names(cls, v: Any) -> Any:
        # `trackers: [mlflow, tensorboard]` for trackers with their default options
        return [{"name": t} if isinstance(t, str) else t for t in v] if isinstance(v, list) else v

    @field_validator("name")
    @classmethod
    def _study_name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v

    @model_validator(mode="after")
    def _single_or_many(self) -> StudySpec:
        if self.optimizers is not None:
            stray = [k for k in ("optimizer", "groups", "schedule") if getattr(self, k) is not None]
            if stray:
                raise ValueError(
                    f"with optimizers: {{...}} put {', '.join(stray)} inside each named optimizer, not at the top"
                )
            if not self.optimizers:
                raise ValueError("optimizers must name at least one optimizer")
            for key in self.optimizers:
                if not _NAME.match(key) or key == "main":
                    raise ValueError(f"optimizer names must be plain identifiers other than 'main', got {key!r}")
        elif not self.groups:
            raise ValueError("groups is required: list at least one parameter group (e.g. {name: all, rest: true, lr: ...})")
        return self

    def blocks(self) -> list[tuple[str, OptimizerBlock]]:
        """The optimizers as ``(key, block)``; a single top-level optimizer has the key ``main``."""
        if self.optimizers is not None:
            return list(self.optimizers.items())
        block = OptimizerBlock(
            **(self.optimizer or OptimizerSpec()).model_dump(),
            groups=self.groups or [],
            schedule=self.schedule or ScheduleSpec(),
        )
        return [("main", block)]
