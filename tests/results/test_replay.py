"""``lrsearch replay``: retraining a recorded trial on CPU reproduces its per-epoch objective exactly."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from lrsearch.results import ReplayResult, curves_frame, format_replay, trials_frame
from tests.conftest import run_cli
from tests.results.conftest import Studies

pytestmark = pytest.mark.slow  # the session's real studies (tests/results/conftest.py), retrained by replay


def replay_rows(stdout: str) -> list[tuple[int, float, float, float]]:
    rows = []
    for line in stdout.splitlines():
        match = re.match(r"^\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+(\S+)$", line)
        if match:
            rows.append((int(match[1]), float(match[2]), float(match[3]), float(match[4])))
    return rows


def test_replay_of_a_complete_trial_reproduces_every_epoch(studies: Studies) -> None:
    trials = trials_frame(studies.url, "alpha")
    number = int(trials[trials["state"] == "COMPLETE"]["number"].iloc[-1])
    proc = run_cli("replay", str(studies.alpha), "--trial", str(number))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = replay_rows(proc.stdout)
    recorded = curves_frame(studies.url, "alpha").query(f"trial == {number}").groupby("epoch")["val_accuracy"].first()
    assert [r[0] for r in rows] == [1, 2, 3]
    for epoch, shown, replayed, diff in rows:
        assert shown == round(recorded[epoch], 6) and replayed == shown and diff == 0
    assert "reproduced: max |diff| 0 (tolerance 1e-06)" in proc.stdout
    assert "on cpu/1t (recorded on cpu/1t)" in proc.stdout


def test_replay_of_a_pruned_trial_stops_where_it_was_pruned(studies: Studies) -> None:
    trials = trials_frame(studies.url, "beta")
    pruned = trials[trials["state"] == "PRUNED"].iloc[0]
    proc = run_cli("replay", "--storage", studies.url, "--study", "beta", "--trial", str(pruned["number"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [r[0] for r in replay_rows(proc.stdout)] == list(range(1, pruned["epochs_run"] + 1))
    assert "(PRUNED)" in proc.stdout


def test_replay_exits_1_when_the_record_differs(studies: Studies, tmp_path: Path) -> None:
    """A record that training does not reproduce (here: edited by hand) fails the replay with exit code 1."""
    for suffix in ("", "-wal", "-shm"):
        if (studies.directory / f"results.db{suffix}").exists():
            shutil.copy(studies.directory / f"results.db{suffix}", tmp_path / f"copy.db{suffix}")
    trials = trials_frame(studies.url, "alpha")
    number = int(trials[trials["state"] == "COMPLETE"]["number"].iloc[0])
    with sqlite3.connect(tmp_path / "copy.db") as conn:
        (metrics,) = conn.execute("SELECT metrics FROM lrsearch_epochs WHERE study_name='alpha' AND trial_number=? "
                                  "AND epoch=2", (number,)).fetchone()
        metrics = json.loads(metrics)
        metrics["val_accuracy"] -= 0.01
        conn.execute("UPDATE lrsearch_epochs SET metrics=? WHERE study_name='alpha' AND trial_number=? AND epoch=2",
                     (json.dumps(metrics), number))
    proc = run_cli("replay", "--storage", f"sqlite:///{tmp_path / 'copy.db'}", "--study", "alpha",
                   "--trial", str(number))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rows = replay_rows(proc.stdout)
    assert [round(r[3], 6) for r in rows] == [0.0, 0.01, 0.0]
    assert "NOT reproduced: max |diff| 0.01" in proc.stdout


def test_the_replay_table_keeps_its_columns_aligned_under_a_long_metric_name() -> None:
    result = ReplayResult(study="s", trial=3, state="PRUNED", metric="val_balanced_accuracy", tolerance=1e-6,
                          device="cpu/1t", recorded_device="cpu/1t", threads=1, seconds=2.0,
                          rows=[(1, 0.5, 0.5), (2, 0.625, 0.6251), (10, 0.75, None)])
    assert format_replay(result).splitlines()[1:] == [
        "epoch  recorded val_balanced_accuracy  replayed    diff",
        "    1                        0.500000  0.500000       0",
        "    2                        0.625000  0.625100  0.0001",
        "   10                        0.750000         -     inf",
        "NOT reproduced: max |diff| inf (tolerance 1e-06)",
    ]


def test_replay_of_a_trial_that_does_not_exist(studies: Studies) -> None:
    proc = run_cli("replay", str(studies.beta), "--trial", "42")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "study 'beta' has no trial #42; its trials are #0..#5" in proc.stderr
