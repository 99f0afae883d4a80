"""lr-find over a study spec: the hold point, the range tests per group (or joint), and their suggestions."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from lrsearch.config import StudySpec
from lrsearch.errors import LrsearchError
from lrsearch.lrfind._narrow import narrow
from lrsearch.lrfind._range_test import average_ramps, range_test
from lrsearch.lrfind._result import JOINT, Curve, LrFindResult
from lrsearch.lrfind._suggest import SUGGESTERS, suggest
from lrsearch.space import SearchSpace

MODES = ("per-group", "joint")
MIN_ITERS = 20  # fastai drops the first iters // 10 and the last 5 points before suggesting


def middle(dist: Any) -> Any:
    """The geometric middle of a log range, the middle of a linear one, the first of a set of choices."""
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[0]
    low, high = float(dist.low), float(dist.high)
    value = math.sqrt(low * high) if dist.log else (low + high) / 2
    if isinstance(dist, IntDistribution):
        return int(round(value))
    if isinstance(dist, FloatDistribution) and dist.step:
        return low + round((value - low) / dist.step) * dist.step
    return value


def hold_point(space: SearchSpace, at: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A value for every dimension: :func:`middle`, or the user's ``--at NAME=VALUE``, checked against the space."""
    dims = {d.name: d for d in space.dimensions()}
    params = {name: middle(d.distribution) for name, d in dims.items()}
    for name, text in (at or {}).items():
        if name not in dims:
            raise LrsearchError(f"--at {name}: not a dimension of this study; dimensions: {', '.join(dims)}")
        params[name] = _parse_value(name, text, dims[name].distribution)
    return params


def _parse_value(name: str, text: str, dist: Any) -> Any:
    if isinstance(dist, CategoricalDistribution):
        for choice in dist.choices:
            if str(choice) == text:
                return choice
        raise LrsearchError(f"--at {name}={text}: must be one of {', '.join(map(str, dist.choices))}")
    try:
        value: Any = float(text)
    except ValueError:
        raise LrsearchError(f"--at {name}={text}: must be a number") from None
    if isinstance(dist, IntDistribution):
        if not value.is_integer():
            raise LrsearchError(f"--at {name}={text}: must be a whole number")
        value = int(value)
    if not dist.low <= value <= dist.high:
        raise LrsearchError(f"--at {name}={text}: outside the study's range [{dist.low:g}, {dist.high:g}]")
    return value


def check_spec_for_lrfind(spec: StudySpec) -> None:
    if spec.task.train:
        raise LrsearchError("lr-find needs a task whose model and data lrsearch can build (task.builtin or "
                            "task.entrypoint); it cannot ramp lrs inside your own training loop (task.train)")
    if len(spec.blocks()) > 1:
        raise LrsearchError("lr-find supports one optimizer; this study has several (optimizers: ...)")


def lr_find(spec: StudySpec, *, mode: str = "per-group", start: float = 1e-7, end: float = 10.0, iters: int = 100,
            at: Mapping[str, str] | None = None, groups: Sequence[str] | None = None, seed: int | None = None,
            suggestion: str = "valley", factor: float = 3.0, source: str | None = None,
            device: str | None = None, runs: int = 1) -> LrFindResult:
    """Run the LR range tests of ``spec`` and narrow its lr ranges around the ``suggestion`` (see the README).

    Per-group mode ramps each group's lr in turn while the others hold at the hold point; joint mode ramps all
    groups together with their hold-point ratios fixed. When the optimizer is searched and not pinned with
    ``at={"opt.name": ...}``, every optimizer choice gets its own tests, and the narrowed range covers them all.
    ``runs > 1`` repeats every test with seeds ``seed, seed + 1, ...`` and suggests from the mean loss.
    """
    import torch

    from lrsearch.tasks import load_task
    from lrsearch.training import resolve_device
    from lrsearch.version import __version__

    check_spec_for_lrfind(spec)
    if mode not in MODES:
        raise LrsearchError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not (0 < start < end) or not math.isfinite(end):
        raise LrsearchError(f"need 0 < start < end, got start={start:g}, end={end:g}")
    if iters < MIN_ITERS:
        raise LrsearchError(f"--iters must be >= {MIN_ITERS}, got {iters}")
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise LrsearchError(f"--runs must be a whole number >= 1, got {runs!r}")
    if suggestion not in SUGGESTERS:
        raise LrsearchError(f"--suggestion must be one of {', '.join(SUGGESTERS)}, got {suggestion!r}")
    if not factor > 1:
        raise LrsearchError(f"--factor must be > 1, got {factor:g}")
    space = SearchSpace(spec)
    params = hold_point(space, at)
    _, block = spec.blocks()[0]
    names = [g.name for g in block.groups]
    chosen = list(groups) if groups else names
    unknown = [g for g in chosen if g not in names]
    if unknown:
        raise LrsearchError(f"--groups: no group {', '.join(map(repr, unknown))}; groups: {', '.join(names)}")
    opt_dim = next((d for d in space.dimensions() if d.name == "opt.name"), None)
    if opt_dim is not None and not (at and "opt.name" in at):
        optimizers = [str(c) for c in opt_dim.distribution.choices]  # type: ignore[attr-defined]
    else:
        optimizers = [str(params.get("opt.name", block.name.fixed_value()))]
    if spec.task.threads:
        torch.set_num_threads(spec.task.threads)
    task = load_task(spec.task.builtin, spec.task.entrypoint, spec.task.options)
    dev = resolve_device(device or spec.task.device)
    seed = spec.task.seed if seed is None else seed
    lead = _lead(block.groups, chosen)
    curves: list[Curve] = []
    for opt_name in optimizers:
        point = {**params, "opt.name": opt_name} if opt_dim is not None else params
        opt_config = space.config_from_params(point, seed=seed).optimizers[0]
        held = {g.name: g.lr for g in opt_config.groups}
        if mode == "joint":
            plans = [(JOINT, {g: held[g] / held[lead] for g in chosen})]
        else:
            plans = [(g, {g: 1.0}) for g in chosen]
        for label, multipliers in plans:
            ramp = average_ramps([
                range_test(task, opt_config, dict(multipliers), start=start, end=end, iters=iters,
                           batch_size=spec.task.batch_size, device=dev, seed=seed + run)
                for run in range(runs)
            ])
            curves.append(Curve(
                group=label, optimizer=opt_name, lrs=ramp.lrs, losses=ramp.losses, smoothed=ramp.smoothed,
                stopped=ramp.stopped, held={g: lr for g, lr in held.items() if g not in multipliers},
                multipliers=dict(multipliers), suggestions=suggest(ramp.lrs, ramp.smoothed, iters),
            ))
    result = LrFindResult(
        study=spec.name, mode=mode, task=str(spec.task.builtin or spec.task.entrypoint),
        settings={"start": start, "end": end, "iters": iters, "batch_size": spec.task.batch_size, "seed": seed, "runs": runs,
                  "suggestion": suggestion, "factor": factor, "groups": chosen, "optimizers": optimizers},
        hold=params, curves=curves, source=source, version=__version__,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    result.ranges = narrow(spec, result, suggestion=suggestion, factor=factor)
    return result


def _lead(groups: Sequence[Any], chosen: Sequence[str]) -> str:
    """Joint mode's x axis: the first chosen group with an absolute lr (others are usually ratios of it)."""
    for g in groups:
        if g.name in chosen and g.lr.ratio_of is None:
            return g.name
    return chosen[0]
