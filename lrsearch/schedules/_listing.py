"""A human-readable table of the registered shapes (``lrsearch schedules``)."""

from __future__ import annotations

from typing import Any

from lrsearch.schedules._base import ShapeParam, all_shapes
from lrsearch.text import table_lines


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower() if isinstance(value, bool) else "none"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _search_text(param: ShapeParam) -> str:
    if param.kind == "categorical" or (param.kind == "bool" and param.choices):
        return "{" + ", ".join(_fmt(c) for c in param.choices or ()) + "}"
    if param.low is None:
        return "fixed"
    return f"{_fmt(param.low)}..{_fmt(param.high)}" + (" log" if param.log else "")


def describe_shapes() -> str:
    """Every registered shape with its parameters: kind, default, suggested range, validity, meaning."""
    lines = ["Schedule shapes (the group's lr is the peak; durations are fractions of the run):", ""]
    header = ("parameter", "kind", "default", "search", "valid", "")  # the unheaded last column: what it means
    for shape in all_shapes():
        title = f"{shape.name}: {shape.description}"
        if shape.torch_equivalent:
            title += f"  [= {shape.torch_equivalent}]"
        lines.append(title)
        if not shape.params:
            lines += ["    (no parameters)", ""]
            continue
        rows = [
            (
                name,
                p.kind,
                _fmt(p.default),
                _search_text(p),
                p.bounds_text() + (" or none" if p.optional else ""),
                p.description,
            )
            for name, p in shape.params.items()
        ]
        lines += [*table_lines(rows, header=header, indent="    "), ""]
    return "\n".join(lines).rstrip() + "\n"
