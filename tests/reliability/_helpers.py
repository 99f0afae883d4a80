"""What the input-reliability tests share: a refused command, a file's digest, a tiny digits study."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import digits_spec


def refused(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit 2, the message on stderr, no traceback."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, f"exit {proc.returncode}\n{out}"
    assert "Traceback" not in out, out
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tiny_spec(name: str = "t", trials: int = 2, **overrides: Any) -> dict[str, Any]:
    """Digits, one epoch a trial, no pruning: a trial takes about a second."""
    return digits_spec(name, **{"budget": {"trials": trials, "epochs": 1}, "pruner": {"name": "none"}, **overrides})
