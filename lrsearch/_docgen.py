"""The reference pages of the documentation site, generated from the code so that they cannot drift:

- :func:`cli_reference`: every command of ``lrsearch``, from the argparse parser itself (usage, description,
  options with their defaults);
- :func:`study_file_reference`: every key of a study file, from the pydantic schema (``StudySpec``).

``docs/hooks.py`` adds both to the site at build time; ``python -m lrsearch._docgen cli|study-file`` prints one.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from typing import Any

_HIDDEN = argparse.SUPPRESS


def cli_reference() -> str:
    import os

    from lrsearch.cli import build_parser, command_parsers
    from lrsearch.cli._options import OPTIONS, TAG

    os.environ["COLUMNS"] = "100"  # argparse wraps usage lines to the terminal: the page must not depend on it
    parser = build_parser()
    helps = _command_helps(parser)
    lines = ["# Command-line reference", "",
             "Generated from `lrsearch`'s own parser at every build of this site: what `lrsearch COMMAND --help` "
             "prints, as tables. Every option has one spelling and one meaning across commands "
             "(`lrsearch/cli/_options.py`).", "",
             "| command | what it does |", "|---|---|"]
    commands = command_parsers(parser)
    lines += [f"| [`{name}`](#{_anchor(name)}) | {_cell(helps.get(name, ''))} |" for name in commands]
    lines += ["", "## Shared options", "",
              "| option | meaning | commands |", "|---|---|---|"]
    used: dict[str, list[str]] = {}
    for name, sub in commands.items():
        for action in sub._actions:
            key = getattr(action, TAG, None)
            if key and action.help != _HIDDEN:
                used.setdefault(key, []).append(name)
    for key, names in used.items():
        if len(names) > 1:
            option = OPTIONS[key]
            flags = ", ".join(f"`{f}`" for f in option.flags)
            lines.append(f"| {flags} | {_cell(option.help)} | {', '.join(names)} |")
    for name, sub in commands.items():
        lines += ["", f"## `lrsearch {name}`", "", _cell(sub.description or helps.get(name, "")), "",
                  "```text", sub.format_usage().strip(), "```", ""]
        rows = [_row(a) for a in sub._actions if not isinstance(a, argparse._HelpAction) and a.help != _HIDDEN]
        if rows:
            lines += ["| argument | default | meaning |", "|---|---|---|", *rows]
    return "\n".join(lines) + "\n"


def _command_helps(parser: argparse.ArgumentParser) -> dict[str, str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: a.help or "" for a in action._choices_actions}
    return {}


def _row(action: argparse.Action) -> str:
    if action.option_strings:
        metavar = "" if action.nargs == 0 else f" {action.metavar or action.dest.upper()}"
        name = ", ".join(f"`{flag}{metavar}`" for flag in action.option_strings)
    else:
        name = f"`{action.metavar or action.dest}`" + (" (optional)" if action.nargs == "?" else "")
    default = action.default
    shown = "" if default in (None, False, [], argparse.SUPPRESS) or action.nargs == 0 else f"`{default:g}`" \
        if isinstance(default, float) else f"`{default}`"
    meaning = _cell(action.help or "")
    if action.choices and action.option_strings:
        meaning += " (one of: " + ", ".join(f"`{c}`" for c in action.choices) + ")"
    if getattr(action, "required", False) and action.option_strings:
        meaning = "**required**; " + meaning
    return f"| {name} | {shown} | {meaning} |"


def _cell(text: str) -> str:
    return " ".join(str(text).replace("%%", "%").replace("|", "\\|").split())


def _anchor(command: str) -> str:
    return f"lrsearch-{command}".replace("_", "-")


# -- the study file ---------------------------------------------------------------------------------------------

_SEARCHABLE = {"Dim", "LrDim"}


def study_file_reference() -> str:
    from lrsearch.config import StudySpec

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
    from lrsearch.config import _schema

    cls = getattr(_schema, name, None) or getattr(sys.modules.get("lrsearch.config._dims"), name, None)
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


def main(argv: list[str] | None = None) -> int:
    which = (argv if argv is not None else sys.argv[1:]) or ["cli"]
    pages = {"cli": cli_reference, "study-file": study_file_reference}
    if which[0] not in pages:
        print(f"usage: python -m lrsearch._docgen {'|'.join(pages)}", file=sys.stderr)
        return 2
    sys.stdout.write(pages[which[0]]())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
