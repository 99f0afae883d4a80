"""The study spec: schema, loading, validation and error reporting."""

from lrsearch.config._dims import Dim, LrDim
from lrsearch.config._load import (
    RESUMABLE_KEYS,
    import_plugins,
    load_spec,
    parse_spec,
    resolve_storage,
    spec_hash,
)
from lrsearch.config._optuna import PRUNERS, SAMPLERS, build_pruner, build_sampler
from lrsearch.config._reference import study_file_reference
from lrsearch.config._schema import (
    Budget,
    ConfirmSpec,
    GroupSpec,
    LayerwiseSpec,
    Objective,
    OptimizerBlock,
    OptimizerSpec,
    PrunerSpec,
    RecipeSpec,
    SamplerSpec,
    ScheduleSpec,
    SearchStrategySpec,
    StudySpec,
    TaskSpec,
    TrackerSpec,
    parse_duration,
)

__all__ = [
    "RESUMABLE_KEYS", "Budget", "ConfirmSpec", "Dim", "GroupSpec", "LayerwiseSpec", "LrDim", "Objective", "OptimizerBlock",
    "OptimizerSpec", "PRUNERS", "PrunerSpec", "RecipeSpec", "SAMPLERS", "SamplerSpec", "ScheduleSpec", "SearchStrategySpec",
    "StudySpec", "TaskSpec", "TrackerSpec", "build_pruner", "build_sampler", "import_plugins", "load_spec", "parse_duration",
    "parse_spec", "resolve_storage", "spec_hash", "study_file_reference",
]
