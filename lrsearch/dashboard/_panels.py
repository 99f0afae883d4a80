"""Panel definitions (``templates/panels.yaml``, or the user's copy) and the registry of panel builders.

The same definitions feed the dashboard (one plotly figure per panel id, saved into the study) and the HTML
report, so both always show the same panels.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lrsearch.errors import LrsearchError

DEFAULT_PANELS = Path(__file__).with_name("templates") / "panels.yaml"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


@dataclass(frozen=True)
class PanelKind:
    name: str
    description: str
    build: Callable[..., Any]
    options: dict[str, Any] = field(default_factory=dict)  # option -> default


def _kinds() -> dict[str, PanelKind]:
    from lrsearch.dashboard import _figures as f

    kinds = {}
    for name in ("lr_curves", "value_vs_lr", "value_by_shape", "epochs_per_trial"):
        fn = getattr(f, name)
        options = {p.name: p.default for p in inspect.signature(fn).parameters.values()
                   if p.default is not inspect.Parameter.empty}
        kinds[name] = PanelKind(name, (fn.__doc__ or "").strip().splitlines()[0], fn, options)
    return kinds


@dataclass(frozen=True)
class PanelDef:
    """One panel: where it goes (``id``), what draws it (``kind``), its title template and options."""

    id: str
    kind: str
    title: str
    options: dict[str, Any] = field(default_factory=dict)

    def render_title(self, **context: Any) -> str:
        return self.title.format(**{**self.options, **context})


def panel_kinds() -> dict[str, PanelKind]:
    return _kinds()


def load_panels(path: str | Path | None = None) -> list[PanelDef]:
    """The panel definitions in ``path`` (default: the ones lrsearch ships). Every problem is reported at once."""
    source = Path(path) if path is not None else DEFAULT_PANELS
    try:
        data = yaml.safe_load(source.read_text())
    except FileNotFoundError:
        raise LrsearchError(f"panels file {source} does not exist") from None
    except (OSError, yaml.YAMLError) as exc:
        raise LrsearchError(f"panels file {source}: cannot read it as YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("panels"), list) or not data["panels"]:
        raise LrsearchError(f"panels file {source}: expected a mapping with a non-empty list under 'panels'")
    kinds = _kinds()
    problems: list[str] = []
    panels: list[PanelDef] = []
    seen: set[str] = set()
    for i, item in enumerate(data["panels"]):
        where, before = f"panels[{i}]", len(problems)
        if not isinstance(item, dict):
            problems.append(f"{where}: expected a mapping with id, kind, title, got {item!r}")
            continue
        unknown = sorted(set(item) - {"id", "kind", "title", "options"})
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: id, kind, title, options")
        pid, kind, title = item.get("id"), item.get("kind"), item.get("title")
        options = item.get("options") or {}
        if not isinstance(pid, str) or not _ID.match(pid):
            problems.append(f"{where}.id: letters, digits, '-', '_', '.', ':' (starting with a letter or digit), "
                            f"got {pid!r}")
        elif pid in seen:
            problems.append(f"{where}.id: {pid!r} is used twice")
        seen.add(str(pid))
        if kind not in kinds:
            problems.append(f"{where}.kind: unknown panel kind {kind!r}; known: {', '.join(kinds)}")
        elif not isinstance(options, dict):
            problems.append(f"{where}.options: expected a mapping, got {options!r}")
        else:
            for key, value in options.items():
                default = kinds[kind].options.get(key, inspect.Parameter.empty)
                if default is inspect.Parameter.empty:
                    allowed = ", ".join(kinds[kind].options) or "none"
                    problems.append(f"{where}.options.{key}: not an option of {kind} (options: {allowed})")
                elif isinstance(default, int) and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                    problems.append(f"{where}.options.{key}: must be an integer >= 1, got {value!r}")
        if not isinstance(title, str) or not title.strip():
            problems.append(f"{where}.title: a non-empty string is required")
        if len(problems) > before:
            continue
        merged = {**kinds[kind].options, **options}
        try:
            PanelDef(pid, kind, title, merged).render_title(metric="m", direction="d", study="s")
        except (KeyError, IndexError, ValueError) as exc:
            problems.append(f"{where}.title: unknown placeholder {exc}; use {{metric}}, {{direction}}, {{study}}"
                            + "".join(f", {{{k}}}" for k in merged))
            continue
        panels.append(PanelDef(pid, kind, title, merged))
    if problems:
        raise LrsearchError(f"panels file {source}: {len(problems)} problem(s):\n" + "\n".join(f"  {p}" for p in problems))
    return panels
