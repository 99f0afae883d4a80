"""What every suite shares: the result type, machine facts, and timing helpers."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Skip(Exception):
    """Raised by a suite's ``run`` when it cannot run here (an optional package or a service is missing).

    The message says what is missing and how to get it; ``python -m benchmarks.run`` prints it and goes on.
    """


@dataclass
class Result:
    """A suite's output: a table of rows (dicts with the same keys), notes, and the seeds it used.

    ``details`` holds the raw per-seed data behind the table; it goes to the JSON file only.
    ``skipped`` is the reason when the suite did not run here; ``failed`` the error when it crashed.
    """

    suite: str
    title: str
    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None
    failed: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"suite": self.suite, "title": self.title, "rows": self.rows, "notes": self.notes,
               "seeds": self.seeds, "seconds": round(self.seconds, 1)}
        if self.skipped:
            out["skipped"] = self.skipped
        if self.failed:
            out["failed"] = self.failed
        if self.details:
            out["details"] = self.details
        return out


def machine() -> dict[str, Any]:
    import optuna
    import sqlalchemy
    import torch

    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "host": platform.node(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "optuna": optuna.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def median(values: list[float]) -> float:
    return statistics.median(values)


def mean_sd(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0] if values else float("nan")), 0.0
    return statistics.mean(values), statistics.stdev(values)


def pm(values: list[float], digits: int = 3) -> str:
    """``"0.912 ± 0.013 (n=5)"``: mean and sample standard deviation, for a table cell."""
    mean, sd = mean_sd(values)
    return f"{mean:.{digits}f} ± {sd:.{digits}f} (n={len(values)})"
