"""Command-line start-up: ``lrsearch --help``, ``--version`` and a command's ``--help`` against ``python -c pass``.

Each command is a fresh interpreter (``python -m lrsearch ...``), timed end to end; runs alternate between the
baseline and the commands, so drift in machine load hits every side alike. The ratio is the median time of the
command over the median of ``python -c pass`` measured in the same run; the target is well under a second, i.e.
no torch import before a command needs it. ``import lrsearch, torch`` is shown for scale.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from benchmarks._common import Result, median

TITLE = "Command-line start-up: lrsearch --help / --version against python -c pass"
DEFAULT = True
ROOT = Path(__file__).resolve().parents[2]

CASES = {
    "python -c pass": ["-c", "pass"],
    "lrsearch --version": ["-m", "lrsearch", "--version"],
    "lrsearch --help": ["-m", "lrsearch", "--help"],
    "lrsearch run --help": ["-m", "lrsearch", "run", "--help"],
    "python -c 'import torch' (scale)": ["-c", "import torch"],
}


def _once(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=300)
    return time.perf_counter() - start


def run(quick: bool = False) -> Result:
    repeats = 3 if quick else 15
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(repeats):
        for name, args in CASES.items():
            times[name].append(_once(args))
    base = median(times["python -c pass"])
    rows = []
    for name, samples in times.items():
        m = median(samples)
        rows.append({"command": name, "median s": round(m, 3), "min s": round(min(samples), 3),
                     "ratio to python -c pass": round(m / base, 2), "extra s": round(m - base, 3)})
    notes = [f"{repeats} alternating runs of each; a fresh interpreter each time."]
    return Result("startup", TITLE, rows, notes=notes, seeds=[0])
