"""How a study searches: the single-lr point inside a per-group space, recipes tried first, the staged strategy."""

from lrsearch.search._enqueue import QUEUED_ATTR, RECIPE_ATTR, queue_recipes, queue_stage2_recipes
from lrsearch.search._nesting import Nesting, SameAs, centre, group_dimensions, nesting
from lrsearch.search._recipes import (
    BUILTIN_RECIPES,
    Recipe,
    base_params,
    check_recipes,
    describe_search,
    resolve_recipes,
)
from lrsearch.search._staged import STAGE1_BEST_ATTR, STAGE_ATTR, StagedSampler, next_stage, stage1_best

__all__ = [
    "BUILTIN_RECIPES", "Nesting", "QUEUED_ATTR", "RECIPE_ATTR", "Recipe", "STAGE1_BEST_ATTR", "STAGE_ATTR",
    "SameAs", "StagedSampler", "base_params", "centre", "check_recipes", "describe_search", "group_dimensions", "nesting",
    "next_stage", "queue_recipes", "queue_stage2_recipes", "resolve_recipes", "stage1_best",
]
