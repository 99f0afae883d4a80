"""Study spec -> Optuna distributions with stable names, and sampled trial -> :class:`TrialConfig`.

One walk over the spec serves both purposes: in *sampling* mode it asks an Optuna trial for values (so
conditional parameters are only suggested when active), in *listing* mode it records every dimension that
any branch could ask for, with the condition under which it is active.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from lrsearch.config import Dim, GroupSpec, ScheduleSpec, StudySpec
from lrsearch.trial_config import GroupConfig, OptimizerConfig, ScheduleConfig, TrialConfig

DEFAULT_BETAS = (0.9, 0.999)


@dataclass(frozen=True)
class Dimension:
    """One searchable parameter: its stable name, Optuna distribution and the condition for it to be active."""

    name: str
    distribution: BaseDistribution
    condition: str | None = None

    def describe(self) -> str:
        d = self.distribution
        if isinstance(d, CategoricalDistribution):
            return "categorical {" + ", ".join(map(str, d.choices)) + "}"
        kind = "int" if isinstance(d, IntDistribution) else "float"
        log = " log" if d.log else ""
        step = f" step {d.step:g}" if getattr(d, "step", None) not in (None, 1) else ""
        return f"{kind}{log} [{d.low:g}, {d.high:g}]{step}"


def to_distribution(dim: Dim, *, integer: bool = False) -> BaseDistribution | None:
    """The Optuna distribution of ``dim``; None when it is fixed."""
    if dim.is_fixed:
        return None
    if dim.choices is not None:
        return CategoricalDistribution(dim.choices)
    assert dim.low is not None and dim.high is not None
    if integer:
        step = int(dim.step) if dim.step else 1
        return IntDistribution(int(dim.low), int(dim.high), log=dim.log, step=step)
    return FloatDistribution(float(dim.low), float(dim.high), log=dim.log, step=dim.step)


class _Walk:
    """Either samples from a trial or lists dimensions; the spec walk is the same code."""

    def __init__(self, trial: optuna.trial.BaseTrial | None) -> None:
        self.trial = trial
        self.dimensions: dict[str, Dimension] = {}
        self.params: dict[str, Any] = {}
        self.conditions: list[str | None] = []
        # what each group took for the settings a later group may tie to (``{same_as: GROUP}``)
        self.group_values: dict[str, dict[str, Any]] = {}

    def tied(self, group: str, key: str, dim: Dim | None, default: Any) -> Any:
        """``dim``'s value for ``group``: the value ``dim.same_as`` took, or a sampled/fixed value (``default``
        when the spec leaves the setting out); remembered for groups that tie to this one."""
        if dim is None:
            value = default
        elif dim.same_as is not None:
            value = self.group_values.get(dim.same_as, {}).get(key, default)
        else:
            value = self.value(f"{group}.{key}", dim)
        self.group_values.setdefault(group, {})[key] = value
        return value

    @property
    def listing(self) -> bool:
        return self.trial is None

    def value(self, name: str, dim: Dim, *, integer: bool = False) -> Any:
        dist = to_distribution(dim, integer=integer)
        if dist is None:
            value = dim.fixed_value()
            return int(value) if integer and isinstance(value, float) and value.is_integer() else value
        if self.listing:
            cond = " and ".join(c for c in self.conditions if c) or None
            if name not in self.dimensions:
                self.dimensions[name] = Dimension(name, dist, cond)
            return dim.fixed_value()
        assert self.trial is not None
        value = _suggest(self.trial, name, dist)
        if isinstance(dist, IntDistribution):
            value = int(value)
        self.params[name] = value
        return value

    def branches(self, name: str, dim: Dim, chosen: Any) -> list[Any]:
        """The values of a categorical to walk into: all of them when listing, the chosen one when sampling."""
        return [str(v) for v in dim.values()] if self.listing and dim.choices is not None else [chosen]


def _among(param: str, having: list[str], choices: list[str]) -> str | None:
    """The condition for a setting that only the optimizers ``having`` take; None when every choice does."""
    if set(having) >= set(choices):
        return None
    return f"{param} == {having[0]}" if len(having) == 1 else f"{param} in {{{', '.join(having)}}}"


def _suggest(trial: optuna.trial.BaseTrial, name: str, dist: BaseDistribution) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)


class SearchSpace:
    """The search space of one study spec."""

    def __init__(self, spec: StudySpec) -> None:
        self.spec = spec

    def dimensions(self) -> list[Dimension]:
        walk = _Walk(None)
        self._walk(walk, trial_number=0)
        return list(walk.dimensions.values())

    def is_conditional(self) -> bool:
        return any(d.condition for d in self.dimensions())

    def sample(self, trial: optuna.trial.BaseTrial) -> TrialConfig:
        walk = _Walk(trial)
        number = getattr(trial, "number", 0)
        return self._walk(walk, trial_number=number)

    def config_from_params(self, params: dict[str, Any], trial_number: int = 0, seed: int | None = None) -> TrialConfig:
        """Rebuild the config of a recorded trial from its parameters (replay, ``best``, confirmation runs)."""
        walk = _Walk(optuna.trial.FixedTrial(params, number=trial_number))
        config = self._walk(walk, trial_number=trial_number)
        if seed is not None:
            config.seed = seed
        return config

    # -- the walk ---------------------------------------------------------------------------------------------

    def _walk(self, w: _Walk, trial_number: int) -> TrialConfig:
        spec = self.spec
        many = spec.optimizers is not None
        optimizers: list[OptimizerConfig] = []
        # lrs are resolved after every group is sampled, because ratio_of may point forward or across optimizers
        lr_parts: dict[str, tuple[str | None, float]] = {}
        for key, block in spec.blocks():
            opt_param = f"opt.{key}.name" if many else "opt.name"
            opt_name = str(w.value(opt_param, block.name))
            from lrsearch.optim import get_optimizer_info

            groups: list[GroupConfig] = []
            shared_prefix = f"schedule.{key}" if many else "schedule"
            shared: ScheduleConfig | None = None
            if not block.schedule.per_group:
                shared = self._schedule(w, shared_prefix, block.schedule)
            for group in block.groups:
                gc = self._group(w, group, opt_param, block.name, opt_name, lr_parts)
                if group.schedule is not None:
                    gc.schedule = self._schedule(w, f"schedule.{group.name}", group.schedule)
                elif block.schedule.per_group:
                    gc.schedule = self._schedule(w, f"schedule.{group.name}", block.schedule)
                else:
                    assert shared is not None
                    gc.schedule = ScheduleConfig(**{**shared.__dict__, "params": dict(shared.params)})
                groups.append(gc)
            # Capabilities decide which of momentum/betas the groups carry; branches in listing mode were
            # walked in _group already.
            info = get_optimizer_info(opt_name)
            for g in groups:
                if not info.has_momentum:
                    g.momentum = None
                if not info.has_betas:
                    g.betas = None
            optimizers.append(
                OptimizerConfig(
                    key=key,
                    name=opt_name,
                    options=dict(block.options),
                    weight_decay_exclude=list(block.weight_decay_exclude),
                    groups=groups,
                )
            )
        resolved = _resolve_lrs(lr_parts)
        for opt in optimizers:
            for g in opt.groups:
                g.lr = resolved[g.name]
        return TrialConfig(
            epochs=spec.budget.epochs,
            seed=spec.task.seed + trial_number,
            optimizers=optimizers,
            params=dict(w.params),
        )

    def _group(self, w: _Walk, group: GroupSpec, opt_param: str, opt_dim: Dim, opt_name: str, lr_parts: dict[str, tuple[str | None, float]]) -> GroupConfig:
        from lrsearch.optim import get_optimizer_info

        g = group.name
        assert group.lr is not None
        if group.lr.ratio_of is not None:
            lr_parts[g] = (group.lr.ratio_of, float(w.value(f"{g}.lr_ratio", group.lr)))
        else:
            lr_parts[g] = (None, float(w.value(f"{g}.lr", group.lr)))
        momentum: float | None = None
        betas: tuple[float, float] | None = None
        # momentum/betas are active for whichever of the optimizer choices have them: listing walks every
        # choice (conditions say which), sampling only the chosen one.
        walked = [get_optimizer_info(n) for n in w.branches(opt_param, opt_dim, opt_name)]
        choices = [str(v) for v in opt_dim.values()] if not opt_dim.is_fixed else [opt_name]
        with_momentum = [n for n in choices if get_optimizer_info(n).has_momentum]
        with_betas = [n for n in choices if get_optimizer_info(n).has_betas]
        if any(info.has_momentum for info in walked):
            w.conditions.append(_among(opt_param, with_momentum, choices))
            default = get_optimizer_info(opt_name).default_momentum
            momentum = float(w.tied(g, "momentum", group.momentum, default))
            w.conditions.pop()
        if any(info.has_betas for info in walked):
            w.conditions.append(_among(opt_param, with_betas, choices))
            default_betas = _class_default(opt_name, "betas", DEFAULT_BETAS)
            b1 = float(w.tied(g, "beta1", group.beta1, default_betas[0]))
            b2 = float(w.tied(g, "beta2", group.beta2, default_betas[1]))
            betas = (b1, b2)
            w.conditions.pop()
        decay = None
        if group.layerwise is not None:
            decay = float(w.value(f"{g}.layer_decay", group.layerwise.decay))
        return GroupConfig(
            name=g,
            lr=0.0,  # resolved once every group is known
            params=list(group.params or []),
            rest=group.rest,
            layerwise=group.layerwise.pattern if group.layerwise else None,
            layer_decay=decay,
            momentum=momentum,
            betas=betas,
            weight_decay=float(w.tied(g, "weight_decay", group.weight_decay, 0.0)),
            freeze_epochs=int(w.value(f"{g}.freeze_epochs", group.freeze_epochs, integer=True)),
        )

    def _schedule(self, w: _Walk, prefix: str, spec: ScheduleSpec) -> ScheduleConfig:
        from lrsearch.schedules import get_shape

        shape = str(w.value(f"{prefix}.shape", spec.shape))
        params: dict[str, Any] = {}
        for name in w.branches(f"{prefix}.shape", spec.shape, shape):
            cond = f"{prefix}.shape == {name}" if not spec.shape.is_fixed else None
            if cond:
                w.conditions.append(cond)
            declared = get_shape(name).params
            given = spec.params.get(name, {})
            values = {}
            for pname, pdesc in declared.items():
                if pname in given:
                    values[pname] = w.value(f"{prefix}.{name}.{pname}", given[pname], integer=pdesc.kind == "int")
                else:
                    values[pname] = pdesc.default
            if name == shape:
                params = values
            if cond:
                w.conditions.pop()
        momentum = spec.momentum
        if momentum == "auto":
            momentum = "inverse" if get_shape(shape).cycles_momentum else "constant"
        return ScheduleConfig(
            shape=shape,
            params=params,
            warmup=float(w.value(f"{prefix}.warmup", spec.warmup)),
            warmup_start_factor=spec.warmup_start_factor,
            granularity=spec.granularity,
            momentum=momentum,
            momentum_base=float(w.value(f"{prefix}.momentum_base", spec.momentum_base)),
            weight_decay=spec.weight_decay,
            weight_decay_end_factor=float(w.value(f"{prefix}.weight_decay_end_factor", spec.weight_decay_end_factor)),
        )


def _class_default(opt_name: str, key: str, fallback: Any) -> Any:
    """The optimizer class's own default for ``key`` (Lion's betas are (0.9, 0.99)), when it is usable."""
    from lrsearch.optim import get_optimizer_info

    info = get_optimizer_info(opt_name)
    try:
        value = info.class_default(key)
    except KeyError:
        return fallback
    if key == "betas":
        ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return tuple(value) if ok and key == "betas" else value if ok else fallback


def _resolve_lrs(parts: dict[str, tuple[str | None, float]]) -> dict[str, float]:
    """Absolute lrs from ``(ratio_of, value)``: a group's lr is its reference's lr times its ratio."""
    resolved: dict[str, float] = {}

    def lr(name: str, depth: int = 0) -> float:
        if name in resolved:
            return resolved[name]
        if depth > len(parts):
            raise ValueError(f"ratio_of cycle through {name!r}")
        ref, value = parts[name]
        resolved[name] = value if ref is None else lr(ref, depth + 1) * value
        return resolved[name]

    for name in parts:
        lr(name)
    return resolved
