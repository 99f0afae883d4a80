"""The command-line reference page of the documentation site, generated from the argparse parser itself (usage,
description, options with their defaults), so that it cannot drift from ``lrsearch --help``."""

from __future__ import annotations

import argparse

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
