"""A trial's groups over a Keras model on any backend: Keras variable paths in, :class:`GroupOptimizer` groups out.

Membership and the no-decay split are lrsearch's own (:func:`lrsearch.groups.resolve_groups`,
:func:`~lrsearch.groups.split_no_decay`), on the names the torch-backend path gives Keras variables (the variable
path less the model's own name in front, see :mod:`lrsearch.keras`), so a study's patterns and its groups are the
same on every backend. Here the variables come from Keras itself, not from torch parameters.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from lrsearch.errors import GroupError, TaskError
from lrsearch.groups import (
    NO_DECAY_RULES,
    ResolvedGroup,
    check_unique_names,
    compile_pattern,
    example_names,
    format_names,
    group_error,
    quote,
    resolve_groups,
    split_no_decay,
)
from lrsearch.keras import is_keras_object, is_norm_layer
from lrsearch.optim import get_optimizer_info
from lrsearch.space import OptimizerConfig

Variables = list[tuple[str, Any]]


def named_variables(model: Any) -> Variables:
    """``(name, variable)`` for every variable of a built Keras model, in Keras's order; names as groups see them."""
    if not is_keras_object(model):
        raise TypeError(f"named_variables needs a Keras 3 model, got {type(model).__name__}")
    variables = list(model.variables)
    if not variables or not getattr(model, "built", True):
        raise TaskError(f"the Keras model {model.name!r} has no variables yet: build it first (call it once on a "
                        "batch, or model.build(input_shape)), so its groups can be formed")
    prefix = f"{model.name}/"
    named = [(v.path.removeprefix(prefix), v) for v in variables]
    seen: dict[str, int] = {}
    for (name, _), variable in zip(named, variables, strict=True):
        if variable.trainable:
            seen[name] = seen.get(name, 0) + 1
    shared = sorted(n for n, count in seen.items() if count > 1)
    if shared:
        raise TaskError(f"{len(shared)} Keras variable path(s) belong to more than one trainable variable: "
                        f"{', '.join(shared)}; give the layers distinct names (name=...)")
    return named


def _layer_variables(model: Any, named: Variables, accept: Callable[[Any], bool]) -> set[str]:
    name_of = {id(v): n for n, v in named}
    return {name_of[id(v)] for layer in model._flatten_layers(include_self=True, recursive=True) if accept(layer)
            for v in layer.variables if id(v) in name_of}


def _rule(model: Any, named: Variables, rule: str) -> set[str]:
    import keras

    if rule == "bias":
        return {n for n, _ in named if n.rsplit("/", 1)[-1] == "bias"}
    if rule == "ndim1":
        return {n for n, v in named if len(v.shape) <= 1}
    if rule == "norm":
        return _layer_variables(model, named, is_norm_layer)
    return _layer_variables(model, named, lambda layer: isinstance(layer, keras.layers.Embedding))


def _no_decay(model: Any, named: Variables, exclude: list[str]) -> tuple[set[str], list[str]]:
    names: set[str] = set()
    problems: list[str] = []
    ordered = [n for n, _ in named]
    for entry in exclude:
        if entry in NO_DECAY_RULES:
            names |= _rule(model, named, entry)
            continue
        try:
            matches = compile_pattern(entry)
        except re.error as exc:
            problems.append(f"weight_decay_exclude {quote(entry)} is not a valid regex: {exc}")
            continue
        hits = {n for n in ordered if matches(n)}
        if not hits:
            problems.append(f"weight_decay_exclude {quote(entry)} is neither a rule ({', '.join(NO_DECAY_RULES)}) nor "
                            f"a pattern matching a trainable variable; names look like: "
                            f"{format_names(example_names(entry, ordered))}")
        names |= hits
    return names, problems


def resolve_keras_groups(model: Any, opt_config: OptimizerConfig) -> tuple[list[ResolvedGroup], dict[str, Any]]:
    """The final groups (layerwise expanded, no-decay split) of ``opt_config`` over ``model``, and name -> variable.

    Raises:
        GroupError: Every membership and ``weight_decay_exclude`` problem at once.
    """
    named = named_variables(model)
    trainable = [(n, v) for n, v in named if v.trainable]
    frozen = [n for n, v in named if not v.trainable]
    groups, problems = resolve_groups([n for n, _ in trainable], frozen, opt_config.groups)
    no_decay, more = _no_decay(model, trainable, list(opt_config.weight_decay_exclude))
    problems += more
    if not problems:
        groups = split_no_decay(groups, no_decay)
        problems = check_unique_names(groups)
    if problems:
        raise group_error(problems, opt_config.key)
    return groups, dict(trainable)


def optimizer_groups(model: Any, opt_config: OptimizerConfig) -> tuple[str, list[dict[str, Any]]]:
    """The algorithm name and :class:`GroupOptimizer` groups of ``opt_config`` over ``model``.

    Raises:
        GroupError: As :func:`resolve_keras_groups`; also for an optimizer the Keras integration does not have.
    """
    from lrsearch.integrations.keras._optimizer import ALGORITHMS

    if opt_config.name not in ALGORITHMS:
        raise GroupError(f"optimizer {opt_config.key!r}: {opt_config.name!r} is not available for Keras fit; "
                         f"lrsearch's Keras optimizer has {', '.join(ALGORITHMS)}")
    info = get_optimizer_info(opt_config.name)
    groups, variables = resolve_keras_groups(model, opt_config)
    out = []
    for g in groups:
        betas = g.config.betas if g.config.betas is not None else (info.class_default("betas") if info.has_betas else None)
        out.append({
            "name": g.name,
            "variables": [variables[n].path for n in g.param_names],
            "lr": g.lr,
            "momentum": betas[0] if betas is not None else g.config.momentum,
            "beta2": betas[1] if betas is not None else None,
            "weight_decay": g.weight_decay,
            "freeze_epochs": g.config.freeze_epochs,
            "schedule": dataclasses.asdict(g.config.schedule),
        })
    return opt_config.name, out
