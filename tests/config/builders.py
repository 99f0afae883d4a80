"""Minimal valid specs to vary in tests, and a helper that returns a spec's problems instead of raising."""

from __future__ import annotations

import copy
from typing import Any

from lrsearch.config import StudySpec, parse_spec
from lrsearch.errors import SpecError

BASE: dict[str, Any] = {
    "name": "t",
    "budget": {"trials": 4, "epochs": 3},
    "task": {"builtin": "digits"},
    "groups": [
        {"name": "head", "params": ["head.*"], "lr": {"low": 1e-3, "high": 0.3, "log": True}},
        {"name": "backbone", "rest": True, "lr": {"ratio_of": "head", "low": 0.03, "high": 3.0, "log": True}},
    ],
}


def spec_data(**top: Any) -> dict[str, Any]:
    """A copy of :data:`BASE` with top-level keys replaced (``None`` removes one)."""
    data = copy.deepcopy(BASE)
    for key, value in top.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = copy.deepcopy(value)
    return data


def group(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, **fields}


def parse(data: dict[str, Any]) -> StudySpec:
    return parse_spec(data)


def problems(data: Any) -> list[tuple[str, str]]:
    """Every ``(field path, message)`` the spec is rejected with; empty when it is valid."""
    try:
        parse_spec(data)
    except SpecError as exc:
        return exc.problems
    return []


def problem_at(data: Any, path: str) -> str:
    """The one message at ``path``; fails the test (showing every problem) when there is not exactly one."""
    found = problems(data)
    messages = [msg for p, msg in found if p == path]
    assert len(messages) == 1, f"expected one problem at {path!r}, got {found}"
    return messages[0]
