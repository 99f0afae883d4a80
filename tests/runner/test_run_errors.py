"""A run that is refused fails before any trial, exits 2 with the reason, and leaves the database untouched."""

from __future__ import annotations

import hashlib
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import optuna
import pytest

from tests.conftest import digits_spec, run_cli, start_cli, write_spec

pytestmark = pytest.mark.slow  # the real CLI in each test; real runs interrupted


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _refused(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def test_a_task_that_cannot_be_imported(tmp_path: Path) -> None:
    spec = digits_spec(task={"entrypoint": "no_such_package.tasks:build", "device": "cpu"})
    proc = run_cli("run", str(write_spec(tmp_path, spec)))
    _refused(proc, "no_such_package")
    assert not (tmp_path / "lrsearch.db").exists()


def test_groups_that_do_not_cover_the_model(tmp_path: Path) -> None:
    spec = digits_spec()
    spec["groups"][1] = {"name": "backbone", "params": ["backbone.0.*"], "lr": 0.01}
    proc = run_cli("run", str(write_spec(tmp_path, spec)))
    _refused(proc, "no group", "rest")
    assert not (tmp_path / "lrsearch.db").exists()


def test_a_malformed_storage_url(tmp_path: Path) -> None:
    proc = run_cli("run", str(write_spec(tmp_path, digits_spec(storage="nosuchdb://what"))))
    _refused(proc, "storage URL")


def test_an_unreachable_server_hides_the_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://alice:s3cret@127.0.0.1:1/nowhere"
    proc = run_cli("run", str(write_spec(tmp_path, digits_spec(storage=url))))
    _refused(proc, "cannot connect", "alice:***@127.0.0.1:1")
    assert "s3cret" not in proc.stderr + proc.stdout


def test_a_corrupt_sqlite_file_is_reported_not_overwritten(tmp_path: Path) -> None:
    db = tmp_path / "lrsearch.db"
    db.write_bytes(b"this is not a database, but somebody's notes\n" * 50)
    digest = _digest(db)
    proc = run_cli("run", str(write_spec(tmp_path, digits_spec())))
    _refused(proc, "not a SQLite database")
    assert _digest(db) == digest


def test_a_foreign_sqlite_database_is_not_written_to(tmp_path: Path) -> None:
    db = tmp_path / "lrsearch.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices VALUES (1, 9.5)")
    digest = _digest(db)
    proc = run_cli("run", str(write_spec(tmp_path, digits_spec())))
    _refused(proc, "another application", "invoices")
    assert _digest(db) == digest


def test_ctrl_c_stops_cleanly_and_the_study_resumes(tmp_path: Path) -> None:
    spec = digits_spec("interrupt", budget={"trials": 5, "epochs": 30},
                       pruner={"name": "none"}, search={"recipes": "none"})  # no other queued trial ahead of it
    path = write_spec(tmp_path, spec)
    proc = start_cli("run", str(path), "--quiet")
    db = tmp_path / "lrsearch.db"
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until the first trial is running
        time.sleep(0.5)
        if db.exists():
            try:
                with sqlite3.connect(db) as conn:
                    if conn.execute("SELECT COUNT(*) FROM lrsearch_trials WHERE finished_at IS NULL").fetchone()[0]:
                        break
            except sqlite3.OperationalError:
                pass
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    study = optuna.load_study(study_name="interrupt", storage=f"sqlite:///{db}")
    states = [t.state for t in study.trials]
    assert optuna.trial.TrialState.RUNNING not in states
    assert optuna.trial.TrialState.WAITING in states, "the interrupted config is queued to run again"
    interrupted = next(t for t in study.trials if t.state == optuna.trial.TrialState.FAIL)
    queued = next(t for t in study.trials if t.state == optuna.trial.TrialState.WAITING)
    assert queued.system_attrs["fixed_params"] == interrupted.params
    # resuming runs the interrupted config first: the queued trial is the one that completes
    done = run_cli("run", str(path), "--quiet", "--trials", "1", check=True)
    assert "this run: 1 complete" in done.stdout
    study = optuna.load_study(study_name="interrupt", storage=f"sqlite:///{db}")
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert [t.number for t in completed] == [queued.number]
    assert completed[0].params == interrupted.params


def test_a_ctrl_c_dropped_inside_a_finaliser_still_stops_the_run(tmp_path: Path) -> None:
    """A Ctrl-C whose KeyboardInterrupt Python drops (it landed in a __del__ run by the garbage collector) stops
    the trial a step later instead of being lost."""
    spec = digits_spec("dropped", budget={"trials": 3, "epochs": 200}, pruner={"name": "none"},
                       task={"entrypoint": "tests.fixtures_tasks.misbehaving:build", "device": "cpu", "threads": 1,
                             "options": {"failures": {"0": "ctrl_c_in_gc"}}})
    path = write_spec(tmp_path, spec)
    proc = start_cli("run", str(path), "--quiet")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    db = tmp_path / "lrsearch.db"
    study = optuna.load_study(study_name="dropped", storage=f"sqlite:///{db}")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.WAITING]
    assert study.trials[0].user_attrs["fail_reason"] == "interrupted"
    log = (tmp_path / "lrsearch-logs" / "dropped" / "trial-0.log").read_text()
    assert "Exception ignored" in log and "KeyboardInterrupt" in log  # the interrupt Python dropped
