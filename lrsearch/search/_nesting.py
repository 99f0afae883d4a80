"""Where the single-lr configuration sits in a per-group space, and which dimensions are per-group.

The single-lr point: every ``<group>.lr_ratio`` at 1, every ``<group>.layer_decay`` at 1, no freezing, later
groups' own weight decay, momentum and betas equal to the first group's, and one schedule for all groups (with ``schedule.per_group: true``, every group's schedule dimensions equal to the first
group's). A per-group space *nests* the single-lr space when that point lies inside it; then a per-group search
can always fall back to what a single-lr search would find.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution

from lrsearch.config import Dim, StudySpec
from lrsearch.space import Dimension, SearchSpace

_GROUP_SUFFIXES = (".lr_ratio", ".layer_decay", ".freeze_epochs")


@dataclass(frozen=True)
class SameAs:
    """A dimension whose single-lr value is whatever another dimension took in the same trial."""

    other: str


@dataclass
class Nesting:
    """The single-lr point of a space: a value (or :class:`SameAs`) for every per-group dimension.

    ``outside`` lists, one message each, why the point is not in the space (empty when it is).
    """

    point: dict[str, Any] = field(default_factory=dict)
    outside: list[str] = field(default_factory=list)

    @property
    def nested(self) -> bool:
        return not self.outside

    def value(self, name: str, params: dict[str, Any]) -> Any:
        """The single-lr value of ``name`` given the trial's other values so far (None if not known yet)."""
        target = self.point[name]
        return params.get(target.other) if isinstance(target, SameAs) else target


def _contains(dist: BaseDistribution, value: Any) -> bool:
    if isinstance(dist, CategoricalDistribution):
        return value in dist.choices
    try:
        return bool(dist._contains(dist.to_internal_repr(value)))
    except ValueError:  # e.g. 0 for a log-scaled range
        return False


def _fixed_problem(path: str, dim: Dim, wanted: float) -> str | None:
    if dim.is_fixed and float(dim.fixed_value()) != wanted:
        return f"{path} is fixed at {dim.fixed_value()}, not {wanted:g}"
    return None


def nesting(spec: StudySpec) -> Nesting:
    """The single-lr point of ``spec``'s space, and why it is outside the space if it is."""
    dims = {d.name: d for d in SearchSpace(spec).dimensions()}
    out = Nesting()
    for _key, block in spec.blocks():
        reference: str | None = None
        first_group: str | None = None
        for group in block.groups:
            g = group.name
            first_group = first_group or g
            assert group.lr is not None
            if group.lr.ratio_of is not None:
                _want(out, dims, f"{g}.lr_ratio", 1.0, _fixed_problem(f"{g}.lr (ratio)", group.lr, 1.0))
            elif reference is None:
                reference = f"{g}.lr"
            else:
                _same(out, dims, f"{g}.lr", reference)
                if group.lr.is_fixed and f"{g}.lr" not in dims:
                    out.outside.append(f"{g}.lr is fixed at {group.lr.fixed_value()} while {reference} is not")
            if group.layerwise is not None:
                _want(out, dims, f"{g}.layer_decay", 1.0,
                      _fixed_problem(f"{g}.layerwise.decay", group.layerwise.decay, 1.0))
            _want(out, dims, f"{g}.freeze_epochs", 0, _fixed_problem(f"{g}.freeze_epochs", group.freeze_epochs, 0))
            if g != first_group:
                for setting in ("weight_decay", "momentum", "beta1", "beta2"):
                    _tie(out, dims, block.groups[0].name, getattr(block.groups[0], setting), g,
                         getattr(group, setting), setting)
        if block.schedule.per_group and first_group is not None:
            for group in block.groups[1:]:
                for name in dims:
                    if name.startswith(f"schedule.{group.name}."):
                        _same(out, dims, name, name.replace(f"schedule.{group.name}.", f"schedule.{first_group}.", 1))
    return out


def _tie(out: Nesting, dims: dict[str, Dimension], first: str, first_dim: Dim | None, g: str, dim: Dim | None,
         setting: str) -> None:
    """A later group's own weight decay / momentum / betas must equal the first group's at the point."""
    if dim is not None and dim.same_as is not None:
        return  # tied in every trial
    name, first_name = f"{g}.{setting}", f"{first}.{setting}"
    first_searched = first_name in dims
    if name in dims:
        if first_searched:
            _same(out, dims, name, first_name)
        elif first_dim is not None and first_dim.same_as is None:
            _want(out, dims, name, first_dim.fixed_value(), None)
        else:
            out.outside.append(f"{name} is searched while {first_name} is left at the optimizer's default")
    elif first_searched:
        fixed = "left at the optimizer's default" if dim is None else f"fixed at {dim.fixed_value()}"
        out.outside.append(f"{name} is {fixed} while {first_name} is searched (tie them: "
                           f"{setting}: {{same_as: {first}}})")
    elif dim is not None and first_dim is not None and first_dim.same_as is None \
            and dim.fixed_value() != first_dim.fixed_value():
        out.outside.append(f"{name} is fixed at {dim.fixed_value()}, {first_name} at {first_dim.fixed_value()}")


def _want(out: Nesting, dims: dict[str, Dimension], name: str, value: Any, fixed_problem: str | None) -> None:
    if fixed_problem:
        out.outside.append(fixed_problem)
        return
    if name not in dims:
        return
    out.point[name] = value
    if not _contains(dims[name].distribution, value):
        out.outside.append(f"{name} ({dims[name].describe()}) does not contain {value:g}")


def _same(out: Nesting, dims: dict[str, Dimension], name: str, other: str) -> None:
    if name not in dims:
        return
    out.point[name] = SameAs(other)
    mine, theirs = dims[name].distribution, dims[other].distribution if other in dims else None
    if theirs is None or mine != theirs:
        out.outside.append(f"{name} ({dims[name].describe()}) cannot always equal {other}: their ranges differ")


def group_dimensions(spec: StudySpec) -> list[str]:
    """The per-group dimensions: what stage 2 of a staged search searches, and stage 1 holds at the single-lr
    point (ratios, layer decay, freezing, independent lrs of later groups, later groups' own schedules)."""
    return list(nesting(spec).point)


def centre(dim: Dimension) -> Any:
    """The middle of a dimension: the geometric middle of a log range, the middle of a linear one (on its
    step), the first of a list of choices."""
    d = dim.distribution
    if isinstance(d, CategoricalDistribution):
        return d.choices[0]
    low, high = float(d.low), float(d.high)  # type: ignore[attr-defined]
    value = (low * high) ** 0.5 if d.log else (low + high) / 2  # type: ignore[attr-defined]
    step = getattr(d, "step", None)
    if step:
        value = low + round((value - low) / step) * step
    if type(d).__name__ == "IntDistribution":
        return int(round(value))
    return float(min(max(value, low), high))


def clip(dim: Dimension, value: Any) -> Any:
    """``value`` moved into ``dim``'s range; for a categorical, the nearest numeric choice (ties to the larger:
    a recipe's one frozen epoch among 0, 2, 4 becomes 2), or the first choice when none is numeric."""
    d = dim.distribution
    if isinstance(d, CategoricalDistribution):
        if value in d.choices:
            return value
        numeric = [c for c in d.choices if isinstance(c, (int, float)) and not isinstance(c, bool)]
        if numeric and isinstance(value, (int, float)):
            return min(numeric, key=lambda c: (abs(c - value), -c))
        return d.choices[0]
    low, high = d.low, d.high  # type: ignore[attr-defined]
    clipped = min(max(value, low), high)
    return int(round(clipped)) if type(d).__name__ == "IntDistribution" else float(clipped)


__all__ = ["Nesting", "SameAs", "centre", "clip", "group_dimensions", "nesting"]
