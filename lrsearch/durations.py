"""Durations as people write them: ``90``, ``90s``, ``30m``, ``2h``, ``1h30m``, ``1d 12h``.

Dependency-free, so the command line can parse a duration without importing the spec schema.
"""

from __future__ import annotations

import re
from typing import Any

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|min|m|sec|s)?", re.IGNORECASE)
_UNITS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_ORDER = ["d", "h", "m", "s"]  # a compound duration goes from larger units to smaller ones
_EXAMPLES = "90, '90s', '30m' or '2h'"


def parse_duration(value: Any) -> float | None:
    """``90``, ``"90s"``, ``"30m"``, ``"2h"``, ``"1h30m"`` -> seconds (``None`` stays ``None``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"must be a duration like {_EXAMPLES}, got {value!r}")
    if isinstance(value, (int, float)):
        if value <= 0:
            raise ValueError(f"must be > 0 seconds, got {value}")
        return float(value)
    text = str(value).strip()
    parts, pos = [], 0
    for match in _PART.finditer(text):
        if text[pos:match.start()].strip():
            break
        parts.append(match)
        pos = match.end()
    if not parts or text[pos:].strip() or (len(parts) > 1 and not _compound_ok(parts)):
        raise ValueError(f"must be a duration like {_EXAMPLES}, got {value!r} (compound ones like '1h30m' work too)")
    seconds = sum(float(m.group(1)) * _UNITS[_unit(m)] for m in parts)
    if seconds <= 0:
        raise ValueError(f"must be > 0, got {value!r}")
    return seconds


def _unit(match: re.Match[str]) -> str | None:
    unit = match.group(2)
    return unit.lower() if unit else None


def _compound_ok(parts: list[re.Match[str]]) -> bool:
    """``1h30m`` yes; ``30m1h``, ``1h1h`` and ``1h30`` (a bare number after a unit) no."""
    ranks = []
    for m in parts:
        unit = {"min": "m", "sec": "s"}.get(_unit(m) or "", _unit(m))
        if unit is None:
            return False
        ranks.append(_ORDER.index(unit))
    return ranks == sorted(set(ranks))


def format_duration(seconds: float) -> str:
    """``5400`` -> ``1h30m``: the compact form ``parse_duration`` reads back."""
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole}s"
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, whole = divmod(whole, size)
        if count:
            out += f"{count}{unit}"
    return out
