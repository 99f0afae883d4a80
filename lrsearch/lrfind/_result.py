"""What an lr-find run produced, as plain data, and where it is kept so that reports can read it.

Results are a JSON file per study, ``<dir>/<study>.json``, where ``<dir>`` is ``lrsearch-lrfind/`` next to the
study's SQLite file (the current directory for server storages), or the ``--results-dir`` directory. Plots sit beside
it as ``<study>-<group>.png``. :func:`load_results` is the one call a report needs.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lrsearch.files import atomic_open
from lrsearch.lrfind._suggest import Suggestion

RESULTS_DIR = "lrsearch-lrfind"
JOINT = "(joint)"  # the group name of a joint-mode curve: every group moved, the x axis is the lead group's lr


@dataclass
class Curve:
    """One range test.

    ``group`` is the group whose lr moved (per-group mode), or ``"(joint)"`` (joint mode: every group moved
    with ``lr_g = multipliers[g] * lr``, where ``lr`` is the x axis: the lead group's lr). ``held`` gives the
    lr of each group that did not move.
    """

    group: str
    optimizer: str
    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    stopped: str
    held: dict[str, float] = field(default_factory=dict)
    multipliers: dict[str, float] = field(default_factory=dict)
    suggestions: dict[str, Suggestion] = field(default_factory=dict)

    def suggested(self, name: str = "valley") -> float | None:
        s = self.suggestions.get(name)
        return None if s is None else s.lr


@dataclass
class NarrowedRange:
    """The outcome for one group's lr dimension (``head.lr``) or ratio dimension (``backbone.lr_ratio``)."""

    group: str
    param: str
    kind: str  # "lr" or "ratio"
    old: list[Any] | None  # [low, high, log]; None when the dimension is fixed
    new: list[float] | None  # [low, high]; None when left unchanged
    basis: list[float] = field(default_factory=list)  # the suggested lrs (or ratios) it came from
    note: str = ""


@dataclass
class LrFindResult:
    study: str
    mode: str
    task: str
    settings: dict[str, Any]
    hold: dict[str, Any]
    curves: list[Curve]
    ranges: list[NarrowedRange] = field(default_factory=list)
    source: str | None = None
    created: str = ""
    version: str = ""
    plots: dict[str, str] = field(default_factory=dict)  # group -> PNG path
    written: str | None = None  # the narrowed study file, when -o was given
    new_study: str | None = None

    def group_suggestions(self, name: str = "valley") -> dict[str, dict[str, float]]:
        """``{optimizer: {group: suggested lr}}``; a joint curve's suggestion is scaled by each group's multiplier."""
        out: dict[str, dict[str, float]] = {}
        for curve in self.curves:
            lr = curve.suggested(name)
            if lr is None:
                continue
            per_opt = out.setdefault(curve.optimizer, {})
            if curve.group == JOINT:
                per_opt.update({g: lr * m for g, m in curve.multipliers.items()})
            else:
                per_opt[curve.group] = lr
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LrFindResult:
        data = dict(data)
        data["curves"] = [
            Curve(**{**c, "suggestions": {k: Suggestion(**s) for k, s in c.get("suggestions", {}).items()}})
            for c in data.get("curves", [])
        ]
        data["ranges"] = [NarrowedRange(**r) for r in data.get("ranges", [])]
        return cls(**data)


def results_dir(storage_url: str | None) -> Path:
    """``lrsearch-lrfind/`` next to a SQLite study database; in the current directory for other storages."""
    from lrsearch.storage import sqlite_path

    path = sqlite_path(storage_url) if storage_url else None
    return (path.parent if path is not None else Path.cwd()) / RESULTS_DIR


def file_stem(study: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", study) or "study"


def save_results(result: LrFindResult, directory: Path, *, as_study: str | None = None) -> Path:
    """Write ``<directory>/<study>.json`` atomically; ``as_study`` files the same result under another name."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{file_stem(as_study or result.study)}.json"
    with atomic_open(path) as fh:
        json.dump(result.to_dict(), fh, indent=1)
    return path


def load_results(study: str, storage: str | None = None, *, directory: str | os.PathLike[str] | None = None
                 ) -> LrFindResult | None:
    """The latest lr-find result of ``study``, or None if lr-find was never run for it.

    Args:
        study: The study name. A study written by ``lr-find -o`` finds the result it was narrowed from.
        storage: The study's storage URL; results live in ``lrsearch-lrfind/`` next to a SQLite file, and in
            ``./lrsearch-lrfind/`` for server storages.
        directory: Read from this directory instead (``lr-find --results-dir``).

    Returns:
        An :class:`LrFindResult`: per curve the lrs, raw and smoothed losses and fastai's suggestions (each with
        the curve point it was read from), the held values, the narrowed ranges and the PNG paths.
    """
    base = Path(directory) if directory is not None else results_dir(storage)
    path = base / f"{file_stem(study)}.json"
    if not path.exists():
        return None
    return LrFindResult.from_dict(json.loads(path.read_text()))
