"""Sampler and pruner names in the spec, mapped onto Optuna's classes (a registry, not an if/elif chain)."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna


@dataclass(frozen=True)
class OptunaComponent:
    name: str
    factory: Callable[..., Any]
    description: str


SAMPLERS: dict[str, OptunaComponent] = {
    c.name: c
    for c in [
        OptunaComponent("tpe", optuna.samplers.TPESampler, "Tree-structured Parzen Estimator (Optuna's default)"),
        OptunaComponent("random", optuna.samplers.RandomSampler, "independent uniform sampling"),
        OptunaComponent("cmaes", optuna.samplers.CmaEsSampler, "CMA-ES (needs the cmaes package)"),
        OptunaComponent("gp", optuna.samplers.GPSampler, "Gaussian-process Bayesian optimisation (needs scipy)"),
        OptunaComponent("qmc", optuna.samplers.QMCSampler, "quasi-Monte Carlo (Sobol/Halton) sequences"),
    ]
}

PRUNERS: dict[str, OptunaComponent] = {
    c.name: c
    for c in [
        OptunaComponent("median", optuna.pruners.MedianPruner, "prune below the median of earlier trials at the same epoch"),
        OptunaComponent("percentile", optuna.pruners.PercentilePruner, "prune below a percentile at the same epoch"),
        OptunaComponent("hyperband", optuna.pruners.HyperbandPruner, "Hyperband over successive-halving brackets"),
        OptunaComponent(
            "successive_halving", optuna.pruners.SuccessiveHalvingPruner, "asynchronous successive halving"
        ),
        OptunaComponent("threshold", optuna.pruners.ThresholdPruner, "prune outside fixed bounds"),
        OptunaComponent("patient", optuna.pruners.PatientPruner, "wrap another pruner with patience"),
        OptunaComponent("none", optuna.pruners.NopPruner, "never prune"),
    ]
}

# Options lrsearch fills in from the spec when the user leaves them out.
_PRUNER_DEFAULTS: dict[str, Callable[[int], dict[str, Any]]] = {
    "hyperband": lambda epochs: {"min_resource": 1, "max_resource": epochs},
    "successive_halving": lambda epochs: {"min_resource": 1},
    "median": lambda epochs: {"n_startup_trials": 5, "n_warmup_steps": 1},
}


def _accepted(factory: Callable[..., Any]) -> list[str]:
    return [
        p.name
        for p in inspect.signature(factory).parameters.values()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"
    ]


def unknown_name(kind: str, name: Any, known: list[str]) -> str:
    """``unknown shape 'cosin'; did you mean 'cosine'? known: ...``"""
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.7)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown {kind} {name!r}; {hint}known: {', '.join(known)}"


def check_options(kind: str, registry: dict[str, OptunaComponent], name: str, options: dict[str, Any]) -> list[tuple[str, str]]:
    """Problems with ``name``/``options`` as ``(field, message)``; empty when they would construct."""
    if name not in registry:
        return [(f"{kind}.name", unknown_name(kind, name, list(registry)))]
    accepted = _accepted(registry[name].factory)
    problems = []
    for key in options:
        if kind == "pruner" and name == "patient" and key == "wrapped":
            continue
        if key not in accepted or (kind == "sampler" and key == "seed"):
            hint = "seed goes in sampler.seed" if key == "seed" else f"valid options: {', '.join(a for a in accepted if a != 'seed') or 'none'}"
            problems.append((f"{kind}.options.{key}", f"not an option of {name}; {hint}"))
    if kind == "pruner" and name == "patient":
        wrapped = options.get("wrapped")
        if not isinstance(wrapped, dict) or "name" not in wrapped:
            problems.append(("pruner.options.wrapped", "patient needs wrapped: {name: median, options: {...}}"))
        else:
            problems += check_options("pruner", PRUNERS, wrapped["name"], wrapped.get("options", {}))
        if "patience" not in options:
            problems.append(("pruner.options.patience", "patient needs patience (epochs without improvement)"))
    return problems


def build_sampler(name: str, seed: int | None, options: dict[str, Any], *, conditional: bool) -> optuna.samplers.BaseSampler:
    kwargs = dict(options)
    if name == "tpe" and conditional:
        # A conditional space (shape-specific parameters) makes multivariate TPE fall back to independent
        # sampling for every inactive-sometimes parameter; grouping keeps the joint model per sub-space.
        kwargs.setdefault("multivariate", True)
        kwargs.setdefault("group", True)
    if name in ("cmaes", "qmc", "gp"):
        kwargs.setdefault("warn_independent_sampling", False)
    if seed is not None:
        kwargs["seed"] = seed
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return SAMPLERS[name].factory(**kwargs)


def build_pruner(name: str, options: dict[str, Any], epochs: int) -> optuna.pruners.BasePruner:
    kwargs = {**_PRUNER_DEFAULTS.get(name, lambda e: {})(epochs), **options}
    if name == "patient":
        wrapped = kwargs.pop("wrapped")
        kwargs["wrapped_pruner"] = build_pruner(wrapped["name"], wrapped.get("options", {}), epochs)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return PRUNERS[name].factory(**kwargs)
