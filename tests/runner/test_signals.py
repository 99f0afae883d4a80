"""SIGTERM (``docker stop``, a batch system's cancel) stops a run as Ctrl-C does, in-process and with workers; a
supervisor killed with SIGKILL takes its workers with it. Real processes, real signals, a real SQLite file."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from tests.conftest import digits_spec, run_cli, write_spec

pytestmark = pytest.mark.slow  # real runs stopped by signals, then resumed

RUNNING, WAITING, FAIL = (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING,
                          optuna.trial.TrialState.FAIL)


def _start(path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "lrsearch", "run", str(path), "--quiet", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=path.parent,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _running_workers(db: Path, at_least: int = 1, timeout: float = 180) -> list[int]:
    """The pids of the processes running trials, once ``at_least`` trials run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.3)
        try:
            with sqlite3.connect(db, timeout=30) as conn:
                rows = conn.execute("SELECT worker FROM lrsearch_trials WHERE finished_at IS NULL").fetchall()
        except sqlite3.OperationalError:  # not created yet
            continue
        if len(rows) >= at_least:
            return [int(r[0].rsplit(":", 1)[1]) for r in rows]
    raise AssertionError("no trial started")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not reaped yet) is gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _check_stopped_cleanly(db: Path, name: str) -> optuna.Study:
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{db}")
    states = [t.state for t in study.trials]
    assert RUNNING not in states, states
    cut = [t for t in study.trials if t.state == FAIL]
    assert cut and all(t.user_attrs["fail_reason"] == "interrupted" for t in cut)
    queued = [t for t in study.trials if t.state == WAITING]
    assert sorted(t.user_attrs["retry_of"] for t in queued) == sorted(t.number for t in cut)
    # a queued trial holds the config it will run as its fixed params
    assert [t.system_attrs["fixed_params"] for t in queued] == [study.trials[t.user_attrs["retry_of"]].params
                                                                for t in queued]
    return study


@pytest.mark.parametrize("workers", ["1", "2"], ids=["in-process", "two-workers"])
def test_sigterm_stops_a_run_as_ctrl_c_does(tmp_path: Path, workers: str) -> None:
    path = write_spec(tmp_path, digits_spec("term", budget={"trials": 4, "epochs": 40}, pruner={"name": "none"}))
    proc = _start(path, "--workers", workers)
    _running_workers(tmp_path / "lrsearch.db", at_least=int(workers))
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "(stopped: interrupted)" in out
    _check_stopped_cleanly(tmp_path / "lrsearch.db", "term")
    resumed = run_cli("run", str(path), "--quiet", "--trials", "1", timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "this run: 1 complete" in resumed.stdout


def test_sigterm_while_workers_ask_for_trials_leaves_none_running(tmp_path: Path) -> None:
    """Trials of one short epoch: the workers spend much of their time asking for the next trial, the moment
    when a trial is already RUNNING in the database and the worker has not started it yet."""
    path = write_spec(tmp_path, digits_spec("asking", budget={"trials": 400, "epochs": 1}, pruner={"name": "none"}))
    for delay in (0.0, 1.3):
        proc = _start(path, "--workers", "2")
        _running_workers(tmp_path / "lrsearch.db", at_least=1)
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        study = optuna.load_study(study_name="asking", storage=f"sqlite:///{tmp_path / 'lrsearch.db'}")
        assert RUNNING not in [t.state for t in study.trials], delay


def test_workers_die_with_their_supervisor(tmp_path: Path) -> None:
    path = write_spec(tmp_path, digits_spec("orphans", budget={"trials": 4, "epochs": 400}, pruner={"name": "none"}))
    db = tmp_path / "lrsearch.db"
    proc = _start(path, "--workers", "2")
    workers = _running_workers(db, at_least=2)
    proc.send_signal(signal.SIGKILL)  # no chance to stop them itself
    proc.communicate(timeout=60)
    deadline = time.monotonic() + 120
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers), "a worker runs on without its supervisor"
    _check_stopped_cleanly(db, "orphans")  # each worker failed its trial and queued it on the way out
