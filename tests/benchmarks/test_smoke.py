"""Every benchmark suite runs in its seconds-long ``--quick`` form through the real entry command, so that the
benchmarks cannot rot: the table has the suite's columns and every ratio is a finite number."""

from __future__ import annotations

import ast
import json
import math
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each suite runs its --quick form in a process of its own

ROOT = Path(__file__).resolve().parents[2]
SUITES = sorted(m.name for m in pkgutil.iter_modules([str(ROOT / "benchmarks" / "suites")]) if not m.name.startswith("_"))


def is_default(suite: str) -> bool:
    """``DEFAULT = True`` in the suite's module, read without importing it (collection stays cheap)."""
    tree = ast.parse((ROOT / "benchmarks" / "suites" / f"{suite}.py").read_text())
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Constant):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "DEFAULT" for t in targets):
                return node.value.value is True
    return False

SEARCH_COLUMNS = ["benchmark", "search", "complete/pruned trials", "epochs used", "best val (biased)",
                  "Δ vs baseline (points)", "held-out ratio", "epochs to baseline's best", "reached", "epochs ratio"]
# Columns a suite's table must have, beyond at least one finite "ratio" column (every suite's rule).
EXPECTED = {
    "loop": ["task", "hand-written s/epoch", "managed s/epoch", "ratio", "target", "ok"],
    "search": [*SEARCH_COLUMNS, "confirmed test accuracy"],
    "lcbench": [*SEARCH_COLUMNS, "confirmed test bal. acc."],
    "value": ["task", "arm", "epochs used", "confirmed test", "Δ vs baseline, points [95% CI]", "wins/ties/losses",
              "epochs to baseline's best val", "best trial from"],
}


def run_quick(suite: str, out: Path) -> dict:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", suite, "--quick", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, f"benchmarks.run {suite} --quick exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    (written,) = out.glob("*.json")
    assert written.with_suffix(".md").exists()
    data = json.loads(written.read_text())
    data["stdout"] = proc.stdout
    return data


@pytest.mark.parametrize("suite", SUITES)
def test_quick_suite_reports_finite_ratios(suite: str, tmp_path: Path) -> None:
    data = run_quick(suite, tmp_path)
    assert {"date", "cpu", "cores", "python", "torch", "optuna"} <= set(data["machine"])
    assert data["command"].startswith("python -m benchmarks.run")
    (result,) = data["results"]
    if result.get("skipped"):
        pytest.skip(f"suite {suite} cannot run here: {result['skipped']}")
    rows = result["rows"]
    assert rows, f"suite {suite} produced an empty table"
    columns = list(rows[0])
    assert all(list(row) == columns for row in rows), "every row of a table has the same columns"
    missing = [c for c in EXPECTED.get(suite, []) if c not in columns]
    assert not missing, f"suite {suite} lacks columns {missing}; has {columns}"
    ratio_columns = [c for c in columns if "ratio" in c]
    ratios = [row[c] for row in rows for c in ratio_columns if row[c] is not None]
    if is_default(suite):  # what the one command runs must report ratios against a baseline of the same run
        assert ratio_columns, f"suite {suite} reports no ratio against a baseline; columns {columns}"
        assert ratios, f"suite {suite}: every ratio cell is empty"
    assert all(isinstance(r, (int, float)) and math.isfinite(r) and r > 0 for r in ratios), ratios
    assert result["seeds"], f"suite {suite} does not say which seeds it used"
    # the entry command prints every table, ratios included
    for column in ratio_columns or columns:
        assert column in data["stdout"]


def test_list_and_unknown_suite() -> None:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--list"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    for suite in SUITES:
        assert suite in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "nosuch", "--no-write"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2 and "unknown suite(s) nosuch" in proc.stderr
