"""``lr-find -o``: a copy of the study file with narrowed lr ranges and a new study name.

The copy is made by splicing new scalars into the original text at the positions PyYAML reports for them, so
everything else (comments, key order, flow or block style, quoting, indentation) stays byte for byte. The new
name keeps ``lrsearch run`` from refusing the copy as a changed search space of the original study.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from lrsearch.config import StudySpec, parse_spec
from lrsearch.errors import LrsearchError
from lrsearch.files import write_text
from lrsearch.lrfind._narrow import yaml_number
from lrsearch.lrfind._result import NarrowedRange

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_RUN_COMMENT = re.compile(r"^(#.*\blrsearch run )(\S+)", re.MULTILINE)


def _child(node: yaml.Node, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def _yaml_string(text: str) -> str:
    return text if _PLAIN.match(text) and text.lower() not in {"true", "false", "null", "yes", "no", "on", "off"} \
        else json.dumps(text)


def narrowed_text(text: str, ranges: Sequence[NarrowedRange], new_name: str, header: str,
                  run_path: str | None = None) -> str:
    """``text`` with each narrowed range's ``low``/``high`` and the study ``name`` replaced, and ``header`` on top."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    edits: list[tuple[int, int, str]] = []
    name_node = _child(root, "name")
    if not isinstance(name_node, yaml.ScalarNode):
        raise LrsearchError("the study file has no top-level name: to rename")
    edits.append((name_node.start_mark.index, name_node.end_mark.index, _yaml_string(new_name)))
    groups = _child(root, "groups")
    for r in ranges:
        if r.new is None:
            continue
        group = next((g for g in getattr(groups, "value", []) if getattr(_child(g, "name"), "value", None) == r.group),
                     None)
        lr = _child(group, "lr") if group is not None else None
        for key, value in zip(("low", "high"), r.new, strict=True):
            node = _child(lr, key) if lr is not None else None
            if not isinstance(node, yaml.ScalarNode):
                raise LrsearchError(f"cannot find groups[{r.group}].lr.{key} in the study file to narrow it")
            edits.append((node.start_mark.index, node.end_mark.index, yaml_number(value)))
    out = text
    for start, end, new in sorted(edits, reverse=True):
        out = out[:start] + new + out[end:]
    if run_path is not None:
        out = _RUN_COMMENT.sub(lambda m: m.group(1) + run_path, out, count=1)
    return "".join(f"# {line}\n" for line in header.splitlines()) + out


def write_narrowed(source: Path, dest: Path, ranges: Sequence[NarrowedRange], new_name: str, header: str
                   ) -> StudySpec:
    """Write the narrowed copy of ``source`` to ``dest`` after checking that it validates; returns its spec."""
    if dest.resolve() == source.resolve():
        raise LrsearchError(f"-o {dest}: give a new file; lr-find does not overwrite the study it read")
    if not dest.parent.is_dir():
        raise LrsearchError(f"-o {dest}: directory {dest.parent} does not exist")
    text = narrowed_text(source.read_text(), ranges, new_name, header, run_path=str(dest))
    spec = parse_spec(yaml.safe_load(text), source=str(dest), base_dir=dest.resolve().parent)
    write_text(dest, text)
    return spec
