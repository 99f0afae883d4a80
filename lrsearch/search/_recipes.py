"""Recipes: named, known-good configurations a study tries before the sampler's own trials.

Every recipe starts from the *base*: the single-lr point for the per-group dimensions (ratios 1, layer decay 1,
no freezing, one schedule) and the centre of every other dimension (the geometric middle of a log range, the
middle of a linear one, the first of a list of choices). A recipe then sets a few per-group dimensions:

- ``single-lr``: the base itself, the configuration a single-lr search would try at its centre;
- ``fastai``: every ``lr_ratio`` at 0.1 (the backbone at a tenth of the head's lr) and every searched
  ``freeze_epochs`` at 1 (head-only first epoch), as fastai's ``fine_tune`` and Lightning's
  ``BackboneFinetuning`` do;
- ``llrd-0.65``, ``llrd-0.8``, ``llrd-0.95``: every ``layer_decay`` at that factor (MAE/BEiT, ELECTRA/ConvNeXt,
  BERT fine-tuning), for spaces with layer-wise groups.

Values are moved into each dimension's range; a recipe that changes nothing in a space (no ratio to set, no
layer-wise group) is left out of ``auto``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lrsearch.config import RecipeSpec, StudySpec
from lrsearch.search._nesting import SameAs, centre, clip, nesting
from lrsearch.space import Dimension, SearchSpace
from lrsearch.text import table_lines


@dataclass(frozen=True)
class BuiltinRecipe:
    name: str
    description: str
    # dimension name -> value to set, or None to leave it at the base
    rule: Callable[[str], Any]
    # the study stage its trial belongs to under the staged strategy
    stage: int = 2


def _fastai(name: str) -> Any:
    if name.endswith(".lr_ratio"):
        return 0.1
    if name.endswith(".freeze_epochs"):
        return 1
    return None


def _llrd(factor: float) -> Callable[[str], Any]:
    return lambda name: factor if name.endswith(".layer_decay") else None


BUILTIN_RECIPES: dict[str, BuiltinRecipe] = {
    r.name: r
    for r in [
        BuiltinRecipe("single-lr", "one lr for every group at the centre of its range", lambda name: None, stage=1),
        BuiltinRecipe("fastai", "backbone at 0.1x the head's lr, head-only first epoch", _fastai),
        BuiltinRecipe("llrd-0.65", "layer-wise lr decay 0.65 (MAE, BEiT)", _llrd(0.65)),
        BuiltinRecipe("llrd-0.8", "layer-wise lr decay 0.8 (ELECTRA, ConvNeXt)", _llrd(0.8)),
        BuiltinRecipe("llrd-0.95", "layer-wise lr decay 0.95 (BERT fine-tuning)", _llrd(0.95)),
    ]
}


@dataclass(frozen=True)
class Recipe:
    """A resolved recipe: a value for every dimension of the space."""

    name: str
    description: str
    params: dict[str, Any]
    stage: int


def base_params(space: SearchSpace, dims: list[Dimension] | None = None) -> dict[str, Any]:
    """The single-lr point for the per-group dimensions, the centre of the others."""
    dims = dims if dims is not None else space.dimensions()
    point = nesting(space.spec).point
    params: dict[str, Any] = {}
    for d in dims:
        if d.name not in point:
            params[d.name] = centre(d)
    by_name = {d.name: d for d in dims}
    for name, target in point.items():
        value = params.get(target.other) if isinstance(target, SameAs) else target
        params[name] = clip(by_name[name], value) if value is not None else centre(by_name[name])
    return params


def builtin_recipe(space: SearchSpace, name: str, dims: list[Dimension] | None = None) -> Recipe:
    builtin = BUILTIN_RECIPES[name]
    dims = dims if dims is not None else space.dimensions()
    by_name = {d.name: d for d in dims}
    params = base_params(space, dims)
    for dim_name in list(params):
        value = builtin.rule(dim_name)
        if value is not None:
            params[dim_name] = clip(by_name[dim_name], value)
    return Recipe(name, builtin.description, params, builtin.stage)


def resolve_recipes(spec: StudySpec, space: SearchSpace | None = None) -> list[Recipe]:
    """The recipes ``spec.search.recipes`` asks for, each with a value for every dimension, in order.

    ``auto`` gives, for a per-group space, ``single-lr`` and each builtin that differs from it in this space
    (nothing for a space without per-group dimensions); a recipe whose values repeat an earlier one's is
    dropped.
    """
    space = space or SearchSpace(spec)
    dims = space.dimensions()
    if not dims:
        return []
    wanted = spec.search.recipes
    recipes: list[Recipe] = []
    if wanted == "none":
        return []
    if wanted == "auto":
        if not nesting(spec).point:
            return []  # a single-lr space: nothing per-group to start from
        recipes = [builtin_recipe(space, name, dims) for name in BUILTIN_RECIPES]
    else:
        by_name = {d.name: d for d in dims}
        base = base_params(space, dims)
        for item in wanted:
            if isinstance(item, str):
                recipes.append(builtin_recipe(space, item, dims))
            else:
                assert isinstance(item, RecipeSpec)
                params = {**base, **{k: clip(by_name[k], v) for k, v in item.params.items()}}
                per_group = any(k in nesting(spec).point for k in item.params)
                recipes.append(Recipe(item.name, "from the spec", params, 2 if per_group else 1))
    unique: list[Recipe] = []
    for recipe in recipes:
        if all(recipe.params != other.params for other in unique):
            unique.append(recipe)
    return unique


def check_recipes(spec: StudySpec) -> list[tuple[str, str]]:
    """Problems with ``search.recipes`` as ``(field, message)``: unknown builtin names, parameters that are
    not dimensions of the space, values outside their range."""
    wanted = spec.search.recipes
    if isinstance(wanted, str):
        return []
    problems: list[tuple[str, str]] = []
    try:
        dims = {d.name: d for d in SearchSpace(spec).dimensions()}
    except Exception:  # the space itself is invalid; its own checks report why
        return []
    seen: set[str] = set()
    for i, item in enumerate(wanted):
        path = f"search.recipes[{i}]"
        name = item if isinstance(item, str) else item.name
        if name in seen:
            problems.append((path, f"recipe name {name!r} is used twice"))
        seen.add(name)
        if isinstance(item, str):
            if item not in BUILTIN_RECIPES:
                problems.append((path, f"unknown recipe {item!r}; builtin recipes: {', '.join(BUILTIN_RECIPES)} "
                                       "(or give {name: ..., params: {dimension: value}})"))
            continue
        for key, value in item.params.items():
            if key not in dims:
                problems.append((f"{path}.params.{key}", f"not a searched dimension; dimensions: "
                                                         f"{', '.join(dims) or 'none'}"))
                continue
            dist = dims[key].distribution
            try:
                inside = value in dist.choices if hasattr(dist, "choices") else bool(
                    dist._contains(dist.to_internal_repr(value)))
            except (TypeError, ValueError):
                inside = False
            if not inside:
                problems.append((f"{path}.params.{key}", f"{value!r} is outside {dims[key].describe()}"))
    return problems


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def describe_search(spec: StudySpec) -> str:
    """What ``lrsearch space`` says about the search: the single-lr point, the recipes, the strategy."""
    from lrsearch.search._nesting import nesting as nest_of

    space = SearchSpace(spec)
    nest = nest_of(spec)
    lines = []
    if not nest.point and not nest.outside:
        lines.append("single-lr point: no per-group dimensions (the space is a single-lr space)")
    elif nest.nested:
        parts = [f"{k}={v.other}" if isinstance(v, SameAs) else f"{k}={_fmt(v)}" for k, v in nest.point.items()]
        lines.append("single-lr point: inside the space (" + ", ".join(parts) + ")")
    else:
        lines.append("single-lr point: OUTSIDE the space: " + "; ".join(nest.outside))
    recipes = resolve_recipes(spec, space)
    setting = spec.search.recipes if isinstance(spec.search.recipes, str) else "list"
    if recipes:
        staged = spec.search.strategy == "staged"
        lines.append(f"recipes (search.recipes: {setting}), queued once before the sampler's own trials"
                     + (", by stage" if staged else "") + ":")
        base = base_params(space)
        rows: list[tuple[str, str]] = []
        for r in recipes:
            changed = {k: v for k, v in r.params.items() if v != base.get(k)}
            what = ", ".join(f"{k}={_fmt(v)}" for k, v in changed.items()) or "the base"
            rows.append((r.name, what + (f" [stage {r.stage}]" if staged else "")))
        lines += table_lines(rows, indent="  ")
        lines.append("  base: " + ", ".join(f"{k}={_fmt(v)}" for k, v in base.items()))
    else:
        lines.append(f"recipes (search.recipes: {setting}): none")
    if spec.search.strategy == "staged":
        share = (f"{spec.search.stage1_epochs} epochs" if spec.search.stage1_epochs is not None
                 else f"{spec.search.stage1:.0%} of the trials or of their epochs")
        lines.append(f"strategy: staged; stage 1 (up to {share}) holds "
                     f"{', '.join(nest.point) or '-'} at the single-lr point; stage 2 holds the rest at stage 1's "
                     "best and searches those")
    else:
        lines.append("strategy: joint (every dimension at once)")
    return "\n".join(lines)
