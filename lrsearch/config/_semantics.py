"""Checks that need the registries or span several fields. Each returns ``(field path, message)`` problems."""

from __future__ import annotations

import math
import re
from typing import Any

from lrsearch.config._dims import Dim
from lrsearch.config._optuna import PRUNERS, SAMPLERS, check_options, unknown_name
from lrsearch.config._schema import GroupSpec, ScheduleSpec, StudySpec
from lrsearch.trial_config import rest_problem

Problem = tuple[str, str]


def check_spec(spec: StudySpec) -> list[Problem]:
    problems: list[Problem] = []
    problems += _check_task(spec)
    problems += check_options("sampler", SAMPLERS, spec.sampler.name, spec.sampler.options)
    problems += check_options("pruner", PRUNERS, spec.pruner.name, spec.pruner.options)
    blocks = spec.blocks()
    many = spec.optimizers is not None
    seen: dict[str, str] = {}
    all_groups: dict[str, GroupSpec] = {}
    for key, block in blocks:
        base = f"optimizers.{key}" if many else ""
        opt_path = f"{base}.name" if many else "optimizer.name"
        opt_names = _optimizer_choices(block.name)
        problems += _check_optimizer(opt_path, opt_names, block.options, base or "optimizer")
        caps = _capabilities(opt_names)
        groups_path = f"{base}.groups" if many else "groups"
        problem = rest_problem([g.name for g in block.groups if g.rest])
        if problem:
            problems.append((groups_path, problem))
        for i, group in enumerate(block.groups):
            path = f"{groups_path}[{i}]"
            if group.name in seen:
                problems.append((f"{path}.name", f"group name {group.name!r} is used twice ({seen[group.name]} and {path})"))
            seen[group.name] = path
            all_groups[group.name] = group
            problems += _check_group(path, group, caps, opt_names, spec.budget.epochs)
            if group.schedule is not None:
                problems += _check_schedule(f"{path}.schedule", group.schedule)
        sched_path = f"{base}.schedule" if many else "schedule"
        problems += _check_schedule(sched_path, block.schedule)
    if many:
        # schedule.<optimizer>.* and schedule.<group>.* share one namespace of parameter names
        for key, _ in blocks:
            if key in all_groups:
                problems.append((f"optimizers.{key}", f"an optimizer and a group are both named {key!r}; "
                                 "rename one (their schedule parameters would share the name schedule." + key + ".*)"))
    problems += _check_ratios(spec, all_groups, seen)
    problems += _check_same_as(spec)
    if not problems:  # recipes and stages are checked against the space, which must be sound first
        problems += _check_search(spec)
    problems += _check_trackers(spec)
    return problems


_TIEABLE = ("weight_decay", "momentum", "beta1", "beta2")


def _check_same_as(spec: StudySpec) -> list[Problem]:
    """``{same_as: GROUP}`` only on a group's weight_decay/momentum/beta1/beta2, naming an earlier group of the
    same optimizer that has that setting."""
    problems: list[Problem] = []
    many = spec.optimizers is not None

    def stray(path: str, data: Any) -> None:
        if isinstance(data, dict):
            if data.get("same_as") is not None:
                problems.append((path, f"same_as is only for a group's {', '.join(_TIEABLE)}"))
            for key, value in data.items():
                stray(f"{path}.{key}" if path else str(key), value)
        elif isinstance(data, list):
            for i, value in enumerate(data):
                stray(f"{path}[{i}]", value)

    for key, block in spec.blocks():
        base = f"optimizers.{key}.groups" if many else "groups"
        earlier: list[str] = []
        for i, group in enumerate(block.groups):
            path = f"{base}[{i}]"
            for setting in _TIEABLE:
                dim = getattr(group, setting)
                if dim is None or dim.same_as is None:
                    continue
                if dim.same_as not in earlier:
                    where = f"earlier groups: {', '.join(earlier)}" if earlier else "this is the first group"
                    problems.append((f"{path}.{setting}.same_as", f"must name an earlier group of the same "
                                                                 f"optimizer, got {dim.same_as!r} ({where})"))
            dumped = group.model_dump(exclude=set(_TIEABLE))
            stray(path, dumped)
            earlier.append(group.name)
        if many:
            stray(f"optimizers.{key}.schedule", block.schedule.model_dump())
    if not many:
        stray("schedule", (spec.schedule.model_dump() if spec.schedule else {}))
        stray("optimizer", (spec.optimizer.model_dump() if spec.optimizer else {}))
    return problems


def _check_search(spec: StudySpec) -> list[Problem]:
    from lrsearch.search import check_recipes, nesting

    problems = check_recipes(spec)
    if spec.search.strategy == "staged":
        if not spec.budget.trials and spec.search.stage1_epochs is None:
            problems.append(("search.strategy", "staged splits the budget (budget.trials, and the epochs they may "
                                                "use) between its stages: give budget.trials, or "
                                                "search.stage1_epochs"))
        nest = nesting(spec)
        if not nest.point:
            problems.append(("search.strategy", "staged needs per-group dimensions to search in stage 2 (an "
                                                "lr_ratio, layer_decay or freeze_epochs range); this space has none"))
        for reason in nest.outside:
            problems.append(("search.strategy", f"staged starts from the single-lr point, which is outside this "
                                                f"space: {reason}"))
    return problems


def _check_trackers(spec: StudySpec) -> list[Problem]:
    from lrsearch.trackers import get_tracker, tracker_names

    problems: list[Problem] = []
    for i, tracker in enumerate(spec.trackers):
        entry = get_tracker(tracker.name)
        if entry is None:
            problems.append((f"trackers[{i}].name", unknown_name("tracker", tracker.name, tracker_names())))
            continue
        problems += [(f"trackers[{i}].options", msg) for msg in entry.check(tracker.options)]
    return problems


def _check_task(spec: StudySpec) -> list[Problem]:
    """A builtin task's name and options (registry lookups; user entrypoints are imported by preflight)."""
    from lrsearch.tasks import builtin_task, builtin_task_names

    name = spec.task.builtin
    if name is None:
        return []
    if name not in builtin_task_names():
        return [("task.builtin", unknown_name("task", name, builtin_task_names()))]
    accepted = list(builtin_task(name).options)
    return [(f"task.options.{key}", f"task {name!r} has no option {key!r}; options: {', '.join(accepted) or 'none'}")
            for key in spec.task.options if key not in accepted]


def _optimizer_choices(dim: Dim) -> list[str]:
    return [str(v) for v in dim.values()] if dim.value is not None or dim.choices is not None else []


def _check_optimizer(path: str, names: list[str], options: dict[str, Any], base: str) -> list[Problem]:
    from lrsearch.errors import LrsearchError
    from lrsearch.optim import get_optimizer_info, is_import_path, optimizer_names, validate_options

    if not names:
        return [(path, "must be an optimizer name or {choices: [...]}, not a range")]
    problems = []
    for name in names:
        try:
            get_optimizer_info(name)
        except LrsearchError as exc:
            if str(name).endswith("_schedulefree"):
                problems.append((path, f"optimizer {name!r} needs the schedulefree package: "
                                       "pip install 'lrsearch[schedulefree]' (or pip install schedulefree)"))
            elif is_import_path(name):
                problems.append((path, str(exc)))
            else:
                problems.append((path, unknown_name("optimizer", name, optimizer_names())
                                 + "; or an import path such as 'lion_pytorch:Lion'"))
            continue
        for msg in validate_options(name, options):
            problems.append((f"{base}.options", msg))
    return problems


def _capabilities(names: list[str]) -> dict[str, bool]:
    from lrsearch.optim import get_optimizer_info

    caps = {"momentum": False, "betas": False}
    for name in names:
        try:
            info = get_optimizer_info(name)
        except Exception:
            continue
        caps["momentum"] |= info.has_momentum
        caps["betas"] |= info.has_betas
    return caps


def _check_group(path: str, group: GroupSpec, caps: dict[str, bool], opt_names: list[str], epochs: int) -> list[Problem]:
    problems: list[Problem] = []
    for pattern in group.params or []:
        if pattern.startswith("re:"):
            try:
                re.compile(pattern[3:])
            except re.error as exc:
                problems.append((f"{path}.params", f"invalid regex {pattern[3:]!r}: {exc}"))
    if group.layerwise is not None:
        try:
            compiled = re.compile(group.layerwise.pattern)
            if compiled.groups < 1:
                problems.append((f"{path}.layerwise.pattern", "needs one capture group for the layer index, e.g. 'layers\\.(\\d+)\\..*'"))
        except re.error as exc:
            problems.append((f"{path}.layerwise.pattern", f"invalid regex: {exc}"))
        problems += _numeric(f"{path}.layerwise.decay", group.layerwise.decay, low=0.0, high=1.0, low_open=True)
    lr = group.lr
    if lr is not None:
        problems += _numeric(f"{path}.lr", lr, low=0.0, low_open=True)
    if group.momentum is not None:
        if not caps["momentum"]:
            problems.append((f"{path}.momentum", f"none of the optimizers ({', '.join(opt_names)}) has momentum; "
                             "use beta1 for Adam-type optimizers, or add sgd/rmsprop"))
        problems += _numeric(f"{path}.momentum", group.momentum, low=0.0, high=1.0, high_open=True)
    for beta in ("beta1", "beta2"):
        dim = getattr(group, beta)
        if dim is not None:
            if not caps["betas"]:
                problems.append((f"{path}.{beta}", f"none of the optimizers ({', '.join(opt_names)}) has betas; "
                                 "use momentum for sgd/rmsprop, or add adam/adamw"))
            problems += _numeric(f"{path}.{beta}", dim, low=0.0, high=1.0, high_open=True)
    problems += _numeric(f"{path}.weight_decay", group.weight_decay, low=0.0)
    problems += _numeric(f"{path}.freeze_epochs", group.freeze_epochs, low=0, high=epochs - 1, integer=True,
                         why=f"a group must train for at least one of the {epochs} epochs")
    return problems


def _check_schedule(path: str, sched: ScheduleSpec) -> list[Problem]:
    from lrsearch.schedules import get_shape, shape_names, validate_param

    problems: list[Problem] = []
    if sched.shape.low is not None:
        return [(f"{path}.shape", "must be a shape name or a list of shape names, not a range")]
    shapes = [str(s) for s in sched.shape.values()]
    known = shape_names()
    for shape in shapes:
        if shape not in known:
            problems.append((f"{path}.shape", unknown_name("shape", shape, known)))
    for shape, params in sched.params.items():
        if shape not in known:
            problems.append((f"{path}.params.{shape}", unknown_name("shape", shape, known)))
            continue
        if shape not in shapes:
            problems.append((f"{path}.params.{shape}", f"parameters for {shape!r}, which is not among the shapes ({', '.join(shapes)})"))
        declared = get_shape(shape).params
        for name, dim in params.items():
            if name not in declared:
                problems.append((f"{path}.params.{shape}.{name}", f"{shape} has no parameter {name!r}; it has: {', '.join(declared) or 'none'}"))
                continue
            for value in dim.values():
                msg = validate_param(shape, name, value)
                if msg:
                    problems.append((f"{path}.params.{shape}.{name}", msg))
    problems += _numeric(f"{path}.warmup", sched.warmup, low=0.0, high=1.0, high_open=True,
                         why="warmup is a fraction of the run")
    problems += _numeric(f"{path}.momentum_base", sched.momentum_base, low=0.0, high=1.0, high_open=True)
    problems += _numeric(f"{path}.weight_decay_end_factor", sched.weight_decay_end_factor, low=0.0)
    return problems


def _check_ratios(spec: StudySpec, groups: dict[str, GroupSpec], paths: dict[str, str]) -> list[Problem]:
    problems: list[Problem] = []
    cycles: set[frozenset[str]] = set()
    for name, group in groups.items():
        ref = group.lr.ratio_of if group.lr is not None else None
        if ref is None:
            continue
        if ref not in groups:
            problems.append((f"{paths[name]}.lr.ratio_of", f"no group named {ref!r}; groups: {', '.join(groups)}"))
            continue
        chain, cur = [name], ref
        while cur is not None and cur in groups:
            if cur in chain:
                # Report each cycle once, at its first group; groups leading into it are reported there.
                cycle = chain[chain.index(cur):]
                if frozenset(cycle) not in cycles:
                    cycles.add(frozenset(cycle))
                    problems.append((f"{paths[cycle[0]]}.lr.ratio_of", "ratio_of forms a cycle: "
                                     + " -> ".join([*cycle, cur]) + "; one group of the cycle needs an absolute lr"))
                break
            chain.append(cur)
            nxt = groups[cur].lr
            cur = nxt.ratio_of if nxt is not None else None
    return problems


def _numeric(path: str, dim: Dim, *, low: float | None = None, high: float | None = None, low_open: bool = False,
             high_open: bool = False, integer: bool = False, why: str = "") -> list[Problem]:
    if dim.choices is None and dim.value is None and dim.low is None:
        return []
    problems = []
    for v in dim.values():
        if isinstance(v, list):
            problems.append((path, f"must be a number, got the list {v!r}; write {{choices: {v!r}}} to search "
                             "among these values, or {low: ..., high: ...} for a range"))
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            problems.append((path, f"must be a number, got {v!r}"))
            continue
        if not math.isfinite(v):
            problems.append((path, f"must be a finite number, got {v!r}"))
            continue
        if integer and float(v) != int(v):
            problems.append((path, f"must be a whole number, got {v!r}"))
        bad_low = low is not None and (v <= low if low_open else v < low)
        bad_high = high is not None and (v >= high if high_open else v > high)
        if bad_low or bad_high:
            lo = "" if low is None else (f"> {low:g}" if low_open else f">= {low:g}")
            hi = "" if high is None else (f"< {high:g}" if high_open else f"<= {high:g}")
            rule = " and ".join(x for x in (lo, hi) if x)
            problems.append((path, f"must be {rule}, got {v!r}" + (f" ({why})" if why else "")))
    if integer and dim.step is not None and float(dim.step) != int(dim.step):
        problems.append((path, f"step must be a whole number, got {dim.step:g}"))
    return problems
