"""lrsearch: hyperparameter search for per-parameter-group optimizer settings and schedules.

The public names load on first use (PEP 562), so ``import lrsearch`` (and ``lrsearch --help``) does not pay for
torch, Optuna and pandas until something needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lrsearch.version import __version__

_LAZY = {
    "run_study": "lrsearch.api",
    "load_study": "lrsearch.api",
    "load_spec": "lrsearch.config",
    "TrialContext": "lrsearch.training",
}

__all__ = ["TrialContext", "__version__", "load_spec", "load_study", "run_study"]

if TYPE_CHECKING:  # pragma: no cover
    from lrsearch.api import load_study, run_study
    from lrsearch.config import load_spec
    from lrsearch.training import TrialContext


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lrsearch' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
