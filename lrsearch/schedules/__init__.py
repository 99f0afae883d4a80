"""Schedule shapes: a registry of pure lr multipliers, their composition with warmup, momentum and
weight-decay policies, and the torch scheduler that applies them per param group.

Importing this package registers the built-in shapes.
"""

from __future__ import annotations

# Imported for their registrations; the import order is the order shapes are listed in.
from lrsearch.schedules import _decay, _hold, _restarts_and_cycles  # noqa: F401
from lrsearch.schedules._apply import GroupScheduler
from lrsearch.schedules._base import (
    PARAM_KINDS,
    ScheduleError,
    Shape,
    ShapeParam,
    UnknownShapeError,
    all_shapes,
    factor_source,
    get_shape,
    register,
    shape_names,
    validate_param,
    validate_params,
)
from lrsearch.schedules._listing import describe_shapes
from lrsearch.schedules._values import (
    GRANULARITIES,
    MOMENTUM_MODES,
    WEIGHT_DECAY_MODES,
    CompiledSchedule,
    compile_schedule,
    lr_factor,
    momentum_value,
    schedule_problems,
    weight_decay_value,
)

__all__ = [
    "GRANULARITIES",
    "MOMENTUM_MODES",
    "PARAM_KINDS",
    "WEIGHT_DECAY_MODES",
    "CompiledSchedule",
    "GroupScheduler",
    "ScheduleError",
    "Shape",
    "ShapeParam",
    "UnknownShapeError",
    "all_shapes",
    "compile_schedule",
    "describe_shapes",
    "factor_source",
    "get_shape",
    "lr_factor",
    "momentum_value",
    "register",
    "schedule_problems",
    "shape_names",
    "validate_param",
    "validate_params",
    "weight_decay_value",
]
