"""What the framework integrations share: turning a framework's metrics into ``ctx.report``'s numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# Throughput and timing figures frameworks add to every evaluation: they describe the machine, not the model.
_MACHINE_SUFFIXES = ("_runtime", "_samples_per_second", "_steps_per_second")


def numeric_metrics(metrics: Mapping[str, Any], rename: Mapping[str, str] | None = None) -> dict[str, float]:
    """The scalar metrics of ``metrics`` as floats, prefixes renamed (``{"eval_": "val_"}``).

    Drops ``epoch`` (the row is keyed by it), throughput and timing figures, and anything that is not one number
    (one-element tensors count as one number).
    """
    out: dict[str, float] = {}
    for name, value in metrics.items():
        name = str(name)
        if name == "epoch" or name.endswith(_MACHINE_SUFFIXES):
            continue
        number = _as_float(value)
        if number is None:
            continue
        for old, new in (rename or {}).items():
            if name.startswith(old):
                name = new + name[len(old):]
                break
        out[name] = number
    return out


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    numel = getattr(value, "numel", None)
    if callable(numel) and numel() == 1:
        return float(value.item())
    return None


def same_epoch(value: float) -> int | None:
    """``value`` as an epoch count when it is a whole number (frameworks keep epochs as floats), else None."""
    nearest = round(value)
    return int(nearest) if math.isclose(value, nearest, abs_tol=1e-6) else None
