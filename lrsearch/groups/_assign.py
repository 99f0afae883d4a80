"""Which parameter goes to which group: a pure function of parameter names and the group configs."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from lrsearch.errors import GroupError
from lrsearch.groups._patterns import NameMatcher, compile_pattern, example_names, format_names, quote
from lrsearch.trial_config import GroupConfig, membership_problem, rest_problem

NamedParams = Iterable[tuple[str, torch.Tensor]] | Iterable[str]


@dataclass(frozen=True)
class ResolvedGroup:
    """One group as the optimizer will see it: its members and its values, resolved from a :class:`GroupConfig`.

    A layerwise spec group becomes one ``ResolvedGroup`` per layer (``layers.3``); the no-decay split adds a
    ``<name>.no_decay`` companion. Everything else (momentum, betas, schedule, freezing) comes from ``config``.
    """

    name: str
    config: GroupConfig
    param_names: tuple[str, ...]
    decay_power: int = 0  # layerwise: the lr is ``config.lr * layer_decay ** decay_power``
    layer: int | None = None
    no_decay: bool = False

    @property
    def lr_scale(self) -> float:
        if self.decay_power == 0:
            return 1.0
        return (self.config.layer_decay if self.config.layer_decay is not None else 1.0) ** self.decay_power

    @property
    def lr(self) -> float:
        return self.config.lr * self.lr_scale

    @property
    def weight_decay(self) -> float:
        return 0.0 if self.no_decay else self.config.weight_decay


@dataclass(frozen=True)
class Assignment:
    """The result of :func:`assign_parameters`: the expanded groups in their final order."""

    groups: tuple[ResolvedGroup, ...]

    def members(self) -> dict[str, list[str]]:
        """Group name -> parameter names, in order."""
        return {g.name: list(g.param_names) for g in self.groups}


def assign_parameters(
    named_params: NamedParams, groups: Sequence[GroupConfig], *, optimizer: str | None = None
) -> Assignment:
    """Decide each trainable parameter's group, expanding layerwise groups into one group per layer.

    Args:
        named_params: ``model.named_parameters()``, or bare names (all treated as trainable). Parameters with
            ``requires_grad=False`` are the task's own business: they join no group and need no pattern.
        groups: The optimizer's group configs, in spec order.
        optimizer: The optimizer's key, used only to label error messages.

    Raises:
        GroupError: With every problem at once: a pattern matching nothing, a parameter matched by two groups,
            parameters in no group when there is no ``rest`` group, two ``rest`` groups, a bad layerwise regex.
    """
    trainable, frozen = _split_trainable(named_params)
    resolved, problems = resolve_groups(trainable, frozen, groups)
    if problems:
        raise group_error(problems, optimizer)
    return Assignment(tuple(resolved))


def group_error(problems: Sequence[str], optimizer: str | None = None) -> GroupError:
    where = f" of optimizer {optimizer!r}" if optimizer else ""
    lines = [f"{len(problems)} problem(s) with the parameter groups{where}:"]
    lines += [f"  - {p}" for p in problems]
    error = GroupError("\n".join(lines))
    error.problems = list(problems)  # type: ignore[attr-defined]
    return error


def _split_trainable(named_params: NamedParams) -> tuple[list[str], list[str]]:
    trainable: list[str] = []
    frozen: list[str] = []
    for item in named_params:
        if isinstance(item, str):
            trainable.append(item)
        else:
            name, param = item
            (trainable if param.requires_grad else frozen).append(name)
    return trainable, frozen


def resolve_groups(
    trainable: Sequence[str], frozen: Sequence[str], groups: Sequence[GroupConfig]
) -> tuple[list[ResolvedGroup], list[str]]:
    """The expanded groups and the list of problems (the groups are meaningless when there are problems)."""
    problems = _check_structure(groups)
    claims: dict[str, list[str]] = defaultdict(list)  # parameter -> spec groups that take it
    layer_of: dict[str, int] = {}
    for group in groups:
        if group.rest:
            continue
        if group.layerwise is not None:
            members = _match_layerwise(group, trainable, frozen, layer_of, problems)
        else:
            members = _match_patterns(group, trainable, frozen, problems)
        for name in members:
            claims[name].append(group.name)

    by_groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for name in trainable:
        if len(claims.get(name, ())) > 1:
            by_groups[tuple(claims[name])].append(name)
    for owners, names in by_groups.items():
        problems.append(
            f"groups {_and(owners)} all match {len(names)} parameter(s); each parameter must be in one group: "
            f"{format_names(names)}"
        )

    unclaimed = [n for n in trainable if n not in claims]
    rest_groups = [g for g in groups if g.rest]
    if rest_groups and not unclaimed:
        problems.append(
            f"group {rest_groups[0].name!r}: rest: true, but the other groups already take every trainable parameter"
        )
    elif not rest_groups and unclaimed:
        problems.append(
            f"{len(unclaimed)} trainable parameter(s) are in no group: {format_names(unclaimed)}; "
            f"add a group with 'rest: true' to take them, or widen a group's patterns"
        )
    if problems:
        return [], problems

    resolved: list[ResolvedGroup] = []
    for group in groups:
        if group.rest:
            resolved.append(ResolvedGroup(group.name, group, tuple(unclaimed)))
        elif group.layerwise is not None:
            resolved += _expand_layers(
                group, [n for n in trainable if group.name in claims.get(n, ())], layer_of
            )
        else:
            members = tuple(n for n in trainable if group.name in claims.get(n, ()))
            resolved.append(ResolvedGroup(group.name, group, members))
    return resolved, check_unique_names(resolved)


def check_unique_names(groups: Sequence[ResolvedGroup]) -> list[str]:
    counts: dict[str, int] = defaultdict(int)
    for g in groups:
        counts[g.name] += 1
    return [
        f"two groups end up named {name!r} (layerwise and no-decay groups add '.<index>' and '.no_decay' to "
        f"their group's name); rename a group"
        for name, count in counts.items()
        if count > 1
    ]


def _check_structure(groups: Sequence[GroupConfig]) -> list[str]:
    problems = []
    seen: set[str] = set()
    for group in groups:
        if group.name in seen:
            problems.append(f"group name {group.name!r} is used twice")
        seen.add(group.name)
        problem = membership_problem(params=bool(group.params), rest=group.rest, layerwise=group.layerwise is not None)
        if problem:
            problems.append(f"group {group.name!r}: {problem}")
        if group.layer_decay is not None and group.layerwise is None:
            problems.append(
                f"group {group.name!r}: layer_decay needs layerwise, the regex that finds the layers"
            )
        if group.layer_decay is not None and group.layer_decay <= 0:
            problems.append(f"group {group.name!r}: layer_decay must be > 0, got {group.layer_decay}")
    problem = rest_problem([g.name for g in groups if g.rest])
    if problem:
        problems.append(problem)
    return problems


def _match_patterns(
    group: GroupConfig, trainable: Sequence[str], frozen: Sequence[str], problems: list[str]
) -> list[str]:
    members: dict[str, None] = {}
    for pattern in group.params:
        try:
            matches = compile_pattern(pattern)
        except re.error as exc:
            problems.append(f"group {group.name!r}: pattern {quote(pattern)} is not a valid regex: {exc}")
            continue
        hits = [n for n in trainable if matches(n)]
        if not hits:
            problems.append(_matched_nothing(group.name, "pattern", pattern, trainable, frozen, matches))
        members.update(dict.fromkeys(hits))
    return list(members)


def _match_layerwise(
    group: GroupConfig,
    trainable: Sequence[str],
    frozen: Sequence[str],
    layer_of: dict[str, int],
    problems: list[str],
) -> list[str]:
    assert group.layerwise is not None
    source = group.layerwise.removeprefix("re:")
    try:
        regex = re.compile(source)
    except re.error as exc:
        problems.append(
            f"group {group.name!r}: layerwise {quote(group.layerwise)} is not a valid regex: {exc}"
        )
        return []
    if regex.groups < 1:
        problems.append(
            f"group {group.name!r}: layerwise {quote(group.layerwise)} has no capture group; put the layer index in "
            f"parentheses, e.g. 'layers\\.(\\d+)\\..*'"
        )
        return []
    members, not_int = [], []
    for name in trainable:
        match = regex.fullmatch(name)
        if match is None:
            continue
        captured = match.group(1)
        try:
            layer_of[name] = int(captured)
        except (TypeError, ValueError):
            not_int.append(f"{quote(name)} -> {captured!r}")
            continue
        members.append(name)
    if not_int:
        problems.append(
            f"group {group.name!r}: layerwise {quote(group.layerwise)} must capture an integer layer index, but "
            f"captured: {format_names(not_int, quoted=False)}"
        )
    elif not members:
        problems.append(
            _matched_nothing(
                group.name,
                "layerwise regex",
                group.layerwise,
                trainable,
                frozen,
                lambda n: regex.fullmatch(n) is not None,
            )
        )
    return members


def _expand_layers(
    group: GroupConfig, members: Sequence[str], layer_of: dict[str, int]
) -> list[ResolvedGroup]:
    layers = sorted({layer_of[n] for n in members})
    count = len(layers)
    return [
        ResolvedGroup(
            name=f"{group.name}.{layer}",
            config=group,
            param_names=tuple(n for n in members if layer_of[n] == layer),
            # BEiT/timm convention: the top layer gets lr * d, the bottom lr * d ** L; the head keeps lr.
            decay_power=count - rank,
            layer=layer,
        )
        for rank, layer in enumerate(layers)
    ]


def _matched_nothing(
    group: str,
    what: str,
    pattern: str,
    trainable: Sequence[str],
    frozen: Sequence[str],
    matches: NameMatcher,
) -> str:
    frozen_hits = [n for n in frozen if matches(n)]
    head = f"group {group!r}: {what} {quote(pattern)} matched no trainable parameter"
    if frozen_hits:
        return f"{head}, only parameters with requires_grad=False: {format_names(frozen_hits, 5)}"
    if not trainable:
        return f"{head}; the model has no trainable parameter"
    return f"{head}; parameter names look like: {format_names(example_names(pattern, trainable))}"


def _and(names: Sequence[str]) -> str:
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
