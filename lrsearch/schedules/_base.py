"""The schedule-shape abstraction and its registry.

A :class:`Shape` is a named, pure multiplier ``factor(step, total, **params) -> float``: the lr at ``step``
(0-based, ``0 <= step <= total``) of a run of ``total`` steps is ``group_lr * factor``. The group's configured
lr is the peak (the max lr for ``onecycle`` and ``cyclic``), so factors stay in ``[0, 1]``.

Factor functions are self-contained module-level functions that use only :mod:`math` and their own arguments:
:func:`factor_source` hands their source to the code that emits plain-PyTorch snippets for users.

Durations are fractions of the run, so that a sampled config means the same thing whatever the number of
epochs. Unless a shape documents otherwise, a fraction ``frac`` becomes ``max(1, round(frac * total))`` steps
(Python's ``round``, half to even); ``total`` is the span the shape runs over (the run minus any warmup).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lrsearch.errors import LrsearchError

PARAM_KINDS = ("float", "int", "categorical", "bool", "float_list")


class ScheduleError(LrsearchError):
    """A schedule is misconfigured: an unknown shape, an unknown or invalid parameter, a bad option."""


class UnknownShapeError(ScheduleError, KeyError):
    """No shape is registered under the requested name."""

    def __str__(self) -> str:
        # KeyError.__str__ would repr() the message, wrapping it in quotes.
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class ShapeParam:
    """One parameter of a shape: its type, default, suggested search range and validity bounds.

    ``low``/``high``/``log`` (numbers) or ``choices`` (categorical) are the *suggested* search space;
    ``min``/``max`` (with ``min_open``/``max_open`` for exclusive bounds) are what is *valid*. ``optional``
    means None is accepted (its meaning is in the description). ``fraction`` marks a duration given as a
    fraction of the run. A ``float_list`` (multistep milestones) has no suggested range: it is a fixed value.
    """

    kind: str
    default: Any
    description: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    min_open: bool = False
    max_open: bool = False
    optional: bool = False
    fraction: bool = False

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"kind must be one of {PARAM_KINDS}, got {self.kind!r}")

    @property
    def searchable(self) -> bool:
        """Whether the param has a suggested search space (a range or choices)."""
        return self.choices is not None or self.low is not None

    def bounds_text(self) -> str:
        """The validity rule in words, e.g. ``> 0 and <= 1``."""
        if self.kind == "categorical":
            return "one of " + ", ".join(repr(c) for c in self.choices or ())
        if self.kind == "bool":
            return "true or false"
        parts = []
        if self.min is not None:
            parts.append(f"> {self.min:g}" if self.min_open else f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"< {self.max:g}" if self.max_open else f"<= {self.max:g}")
        return " and ".join(parts) or "any number"

    def check(self, value: Any) -> str | None:
        """Return why ``value`` is invalid for this parameter, or None if it is valid."""
        if value is None:
            return None if self.optional else f"must be given ({self.kind}), got None"
        if self.kind == "bool":
            return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
        if self.kind == "categorical":
            if value in (self.choices or ()) and not isinstance(value, bool):
                return None
            return f"must be {self.bounds_text()}, got {value!r}"
        if self.kind == "float_list":
            if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not value:
                return f"must be a non-empty list of numbers, got {value!r}"
            for item in value:
                problem = self._check_number(item, integer=False)
                if problem:
                    return f"every item {problem}"
            if any(b <= a for a, b in zip(value, value[1:], strict=False)):
                return f"must be strictly increasing, got {list(value)!r}"
            return None
        return self._check_number(value, integer=self.kind == "int")

    def _check_number(self, value: Any, *, integer: bool) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, got {value!r}"
        if not math.isfinite(value):
            return f"must be finite, got {value!r}"
        if integer and float(value) != int(value):
            return f"must be a whole number, got {value!r}"
        too_low = self.min is not None and (value <= self.min if self.min_open else value < self.min)
        too_high = self.max is not None and (value >= self.max if self.max_open else value > self.max)
        if too_low or too_high:
            unit = " (a fraction of the run)" if self.fraction else ""
            return f"must be {self.bounds_text()}{unit}, got {value!r}"
        return None


def _clamped_factor(factor: Callable[..., float]) -> Callable[..., float]:
    def momentum_fraction(step: int, total: int, **params: Any) -> float:
        return min(1.0, max(0.0, factor(step, total, **params)))

    return momentum_fraction


@dataclass(frozen=True, eq=False)
class Shape:
    """A named schedule shape.

    ``momentum_fraction`` (0 = momentum at its high end, 1 = at its low end) is given by shapes that cycle
    momentum natively (onecycle, cyclic); for the others :meth:`momentum_fraction_at` derives it from the lr
    factor as ``min(1, max(0, factor))``. ``check`` receives the resolved params and returns a message for a
    problem that involves several of them. ``torch_equivalent`` names the torch scheduler it reproduces.
    """

    name: str
    description: str
    factor: Callable[..., float]
    params: dict[str, ShapeParam] = field(default_factory=dict)
    momentum_fraction: Callable[..., float] | None = None
    check: Callable[[dict[str, Any]], str | None] | None = None
    torch_equivalent: str = ""

    @property
    def cycles_momentum(self) -> bool:
        """The shape moves momentum itself (its torch counterpart cycles momentum inversely to the lr by default),
        so ``schedule.momentum: auto`` means ``inverse`` for it."""
        return self.momentum_fraction is not None

    @property
    def momentum_fraction_at(self) -> Callable[..., float]:
        """``momentum_fraction(step, total, **params)``, native or derived from the lr factor."""
        return self.momentum_fraction or _clamped_factor(self.factor)

    def defaults(self) -> dict[str, Any]:
        return {name: p.default for name, p in self.params.items()}

    def problems(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Every problem with ``params`` (partial; defaults fill the rest), as ``(param name, message)``."""
        found = []
        for name, value in params.items():
            message = validate_param(self.name, name, value)
            if message:
                found.append((name, message))
        if not found and self.check is not None:
            message = self.check({**self.defaults(), **params})
            if message:
                found.append(("", message))
        return found

    def resolve(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with ``params``, validated; int params coerced. Raises :class:`ScheduleError`."""
        found = self.problems(params)
        if found:
            details = "; ".join(f"{name}: {msg}" if name else msg for name, msg in found)
            raise ScheduleError(f"invalid parameters for schedule shape {self.name!r}: {details}")
        resolved = {**self.defaults(), **params}
        for name, spec in self.params.items():
            if spec.kind == "int" and resolved[name] is not None:
                resolved[name] = int(resolved[name])
            elif spec.kind == "float_list":
                resolved[name] = tuple(float(v) for v in resolved[name])
        return resolved


_REGISTRY: dict[str, Shape] = {}


def register(shape: Shape) -> Shape:
    """Add ``shape`` to the registry; its functions' keyword parameters must match ``shape.params``."""
    if shape.name in _REGISTRY:
        raise ValueError(f"a schedule shape named {shape.name!r} is already registered")
    for fn in (shape.factor, shape.momentum_fraction):
        if fn is None:
            continue
        signature = list(inspect.signature(fn).parameters.values())
        names = [p.name for p in signature[2:]]
        if [p.name for p in signature[:2]] != ["step", "total"] or names != list(shape.params):
            raise ValueError(f"{fn.__name__} must take (step, total, {', '.join(shape.params)}), got {names}")
        for p in signature[2:]:
            if p.default != shape.params[p.name].default:
                raise ValueError(f"{fn.__name__}: default of {p.name} differs from the ShapeParam default")
    _REGISTRY[shape.name] = shape
    return shape


def get_shape(name: str) -> Shape:
    """The shape registered as ``name``; raises :class:`UnknownShapeError` listing the known names."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownShapeError(f"unknown schedule shape {name!r}; known: {', '.join(_REGISTRY)}") from None


def shape_names() -> list[str]:
    """Registered shape names, in registration order."""
    return list(_REGISTRY)


def all_shapes() -> list[Shape]:
    """Registered shapes, in registration order."""
    return list(_REGISTRY.values())


def validate_param(shape_name: str, param_name: str, value: Any) -> str | None:
    """Why ``value`` is not valid for ``shape_name``'s ``param_name`` (naming the valid range), or None."""
    if shape_name not in _REGISTRY:
        return f"unknown schedule shape {shape_name!r}; known: {', '.join(_REGISTRY)}"
    params = _REGISTRY[shape_name].params
    if param_name not in params:
        known = ", ".join(params) or "none"
        return f"schedule shape {shape_name!r} has no parameter {param_name!r}; it has: {known}"
    return params[param_name].check(value)


def validate_params(shape_name: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every problem with a full or partial set of ``params``, as ``(param name, message)``; cross-parameter
    problems (e.g. onecycle ``three_phase`` with ``pct_start > 0.5``) have an empty param name."""
    if shape_name not in _REGISTRY:
        return [("", f"unknown schedule shape {shape_name!r}; known: {', '.join(_REGISTRY)}")]
    return _REGISTRY[shape_name].problems(params)


def factor_source(shape_name: str) -> str:
    """Source of the shape's factor function (and of its momentum-fraction function, if it has one).

    The result runs on its own after ``import math``. Shapes without a momentum-fraction function derive it as
    ``min(1, max(0, factor))``.
    """
    shape = get_shape(shape_name)
    sources = [inspect.getsource(shape.factor)]
    if shape.momentum_fraction is not None:
        sources.append(inspect.getsource(shape.momentum_fraction))
    return "\n\n".join(s.rstrip() + "\n" for s in sources)
