"""The disk fills up mid-run, for real: the study's SQLite file and trial logs live on a 3 MB tmpfs, and the test
fills it while a trial runs. The run stops with a clear message (exit 1, no traceback), no trial is left RUNNING,
the database passes SQLite's integrity check, and the study resumes once there is room again."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from tests.conftest import digits_spec, run_cli, write_spec

pytestmark = pytest.mark.slow  # real runs on a small disk filled under them, then resumed


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    """Take every free byte of the file system of ``folder``."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as fh:
        for size in (1 << 16, 1 << 9, 1):
            try:
                while True:
                    fh.write(b"\0" * size)
            except OSError:
                pass
    return filler


def _a_trial_runs(db: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.3)
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
                if conn.execute("SELECT COUNT(*) FROM lrsearch_trials WHERE finished_at IS NULL").fetchone()[0]:
                    return
        except sqlite3.OperationalError:
            continue
    raise AssertionError("no trial started")


@pytest.mark.parametrize("workers", ["1", "2"], ids=["in-process", "two-workers"])
def test_a_full_disk_stops_the_run_cleanly(small_disk: Path, workers: str) -> None:
    path = write_spec(small_disk, digits_spec("full", budget={"trials": 3, "epochs": 40}, pruner={"name": "none"}))
    db = small_disk / "lrsearch.db"
    proc = subprocess.Popen([sys.executable, "-m", "lrsearch", "run", str(path), "--workers", workers],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=small_disk,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        _a_trial_runs(db)
        filler = _fill(small_disk)
        out, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    assert "Traceback" not in err + out
    assert "the disk is full" in err and "Free some space and run again" in err
    filler.unlink()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    study = optuna.load_study(study_name="full", storage=f"sqlite:///{db}")
    assert optuna.trial.TrialState.RUNNING not in [t.state for t in study.trials]
    cut = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert cut and all(t.user_attrs["fail_reason"] == "disk_full" for t in cut)
    queued = [t for t in study.trials if t.state == optuna.trial.TrialState.WAITING]
    assert sorted((t.system_attrs["fixed_params"] for t in queued), key=str) == sorted((t.params for t in cut), key=str)

    resumed = run_cli("run", str(path), "--trials", "1", "--quiet", cwd=small_disk, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "this run: 1 complete" in resumed.stdout
