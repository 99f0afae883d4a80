"""The concrete, JSON-serialisable configuration of one trial: what the search space sampled, resolved.

The data model every floor shares: the space creates it; groups, optimizers, schedules, training and the runner
read it. It depends on nothing else in lrsearch, so any of them may import it.

A :class:`TrialConfig` is plain data. Everything that builds torch objects (groups, optimizers, schedules)
takes it as input, so a trial can be rebuilt anywhere from its JSON (workers, replay, ``best``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ScheduleConfig:
    """How one group's values move during training.

    ``shape`` names an entry of :mod:`lrsearch.schedules`; ``params`` are that shape's own parameters.
    ``warmup`` is a fraction of the whole run; the shape then runs over the steps after warmup, so a shape's
    duration parameters (documented as fractions) are fractions of that post-warmup span.
    """

    shape: str = "constant"
    params: dict[str, Any] = field(default_factory=dict)
    warmup: float = 0.0
    warmup_start_factor: float = 0.0
    granularity: str = "step"  # "step" or "epoch"
    # Momentum (SGD/RMSprop ``momentum``, Adam-family ``beta1``): "constant", or "inverse": moves
    # opposite to the lr multiplier between the group's momentum (high end) and ``momentum_base`` (low end).
    momentum: str = "constant"
    momentum_base: float = 0.85
    # Weight decay: "constant", "follow_lr" (scaled by the lr multiplier), or "cosine" (from the group's
    # weight decay to ``weight_decay * weight_decay_end_factor`` along a half cosine).
    weight_decay: str = "constant"
    weight_decay_end_factor: float = 1.0


@dataclass
class GroupConfig:
    """One parameter group of one optimizer, with its resolved values.

    Membership: ``params`` (glob patterns, or regexes prefixed ``re:``), or ``rest`` (every trainable parameter
    no other group of the same optimizer takes), or ``layerwise`` (a regex whose first capture group is the
    layer index; expanded by :mod:`lrsearch.groups` into ``<name>.<index>`` groups with
    ``lr * layer_decay ** (num_layers - index)``).
    """

    name: str
    lr: float
    params: list[str] = field(default_factory=list)
    rest: bool = False
    layerwise: str | None = None
    layer_decay: float | None = None
    momentum: float | None = None
    betas: tuple[float, float] | None = None
    weight_decay: float = 0.0
    freeze_epochs: int = 0
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)


@dataclass
class OptimizerConfig:
    """One optimizer: its registry name, its constructor options and its groups."""

    key: str  # "main" for a study with one optimizer; the spec's name otherwise ("generator", ...)
    name: str  # registry name: sgd, adamw, ...
    options: dict[str, Any] = field(default_factory=dict)
    weight_decay_exclude: list[str] = field(default_factory=list)  # "bias", "norm", "ndim1", or glob patterns
    groups: list[GroupConfig] = field(default_factory=list)


@dataclass
class TrialConfig:
    """Everything a trial needs to train, besides the task: sampled values resolved to concrete numbers."""

    epochs: int
    seed: int
    optimizers: list[OptimizerConfig]
    params: dict[str, Any] = field(default_factory=dict)  # the raw sampled values, by stable name

    def optimizer(self, key: str = "main") -> OptimizerConfig:
        for opt in self.optimizers:
            if opt.key == key:
                return opt
        known = ", ".join(o.key for o in self.optimizers)
        raise KeyError(f"no optimizer {key!r} in this trial; known: {known}")

    def groups(self) -> list[GroupConfig]:
        return [g for o in self.optimizers for g in o.groups]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialConfig:
        optimizers = []
        for o in data["optimizers"]:
            groups = []
            for g in o["groups"]:
                g = dict(g)
                g["schedule"] = ScheduleConfig(**g.get("schedule", {}))
                if g.get("betas") is not None:
                    g["betas"] = tuple(g["betas"])
                groups.append(GroupConfig(**g))
            optimizers.append(OptimizerConfig(**{**o, "groups": groups}))
        return cls(epochs=data["epochs"], seed=data["seed"], optimizers=optimizers, params=dict(data.get("params", {})))

    @classmethod
    def from_json(cls, text: str) -> TrialConfig:
        return cls.from_dict(json.loads(text))


# The structure rules of parameter groups, shared by the spec's validation and the group builder.


def membership_problem(*, params: bool, rest: bool, layerwise: bool) -> str | None:
    """A group names its parameters in exactly one way: ``params`` patterns, ``rest: true`` or ``layerwise``."""
    kinds = [k for k, on in (("params", params), ("rest", rest), ("layerwise", layerwise)) if on]
    if len(kinds) == 1:
        return None
    got = "none of them" if not kinds else " and ".join(kinds)
    return f"give exactly one of params (patterns), rest (everything else) or layerwise; got {got}"


def rest_problem(rest_groups: list[str]) -> str | None:
    """At most one group of an optimizer takes the parameters no other group takes."""
    if len(rest_groups) <= 1:
        return None
    quoted = [repr(n) for n in rest_groups]
    names = ", ".join(quoted[:-1]) + " and " + quoted[-1]
    return f"groups {names} all have rest: true; at most one group per optimizer may"
