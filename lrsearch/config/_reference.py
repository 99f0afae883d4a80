"""The study-file reference page of the documentation site, generated from the pydantic schema (``StudySpec``), so
that it cannot drift from what ``lrsearch validate`` accepts."""

from __future__ import annotations

import inspect
from typing import Any


def _cell(text: str) -> str:
    return " ".join(str(text).replace("%%", "%").replace("|", "\\|").split())


_SEARCHABLE = {"Dim", "LrDim"}


def study_file_reference() -> str:
    from lrsearch.config._schema import StudySpec

    schema = StudySpec.model_json_schema()
    defs = schema.get("$defs", {})
    lines = ["# Study-file reference", "",
             "Generated from the study file's schema (`lrsearch/config/_schema.py`, pydantic) at every build of "
             "this site. Unknown keys are rejected everywhere; `lrsearch validate` reports every problem at once, "
             "by field path. A *searchable* value is written fixed (`0.9`), as a range (`{low: 1.0e-4, high: 0.3, "
             "log: true}`) or as choices (`{choices: [sgd, adamw]}`); the [study-file guide](../study-file.md) "
             "explains each part with examples.", ""]
    lines += _model_section("The top level", schema, defs, anchor="top-level")
    order = [name for name in defs if name not in _SEARCHABLE] + [n for n in defs if n in _SEARCHABLE]
    for name in order:
        lines += _model_section(name, defs[name], defs, anchor=name.lower())
    return "\n".join(lines) + "\n"


def _model_section(title: str, model: dict[str, Any], defs: dict[str, Any], anchor: str) -> list[str]:
    lines = [f"## {title} {{#{anchor}}}", ""]
    doc = model.get("description") or _docstring(title)
    if doc:
        lines += [_cell(doc), ""]
    required = set(model.get("required", []))
    lines += ["| key | type | default | notes |", "|---|---|---|---|"]
    for key, prop in model.get("properties", {}).items():
        default = "**required**" if key in required else _default(prop)
        notes = _cell(prop.get("description", "")) or _constraints(prop)
        lines.append(f"| `{key}` | {_type(prop, defs)} | {default} | {notes} |")
    return [*lines, ""]


def _docstring(name: str) -> str:
    from lrsearch.config import _dims, _schema

    cls = getattr(_schema, name, None) or getattr(_dims, name, None)
    return inspect.getdoc(cls) if cls is not None and cls.__doc__ else ""


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        label = "searchable" if name in _SEARCHABLE else name
        return f"[{label}](#{name.lower()})"
    if "anyOf" in prop:
        parts = [_type(p, defs) for p in prop["anyOf"] if p.get("type") != "null"]
        return " or ".join(dict.fromkeys(parts)) or "null"
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    kind = prop.get("type")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}), defs)}"
    if kind == "object":
        values = prop.get("additionalProperties")
        return f"map of name → {_type(values, defs)}" if isinstance(values, dict) else "mapping"
    return {"integer": "integer", "number": "number", "string": "string", "boolean": "boolean"}.get(kind, "any")


def _default(prop: dict[str, Any]) -> str:
    if "default" not in prop:
        return ""
    value = prop["default"]
    if value is None:
        return "—"
    return f"`{value}`" if value != "" else '`""`'


def _constraints(prop: dict[str, Any]) -> str:
    found = []
    for p in [prop, *prop.get("anyOf", [])]:
        for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
            if key in p:
                found.append(f"{sign} {p[key]}")
    return ", ".join(found)
