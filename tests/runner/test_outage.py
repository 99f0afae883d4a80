"""A PostgreSQL server that goes away mid-run, for real: a server of the test's own is stopped while trials run.

A short outage is waited out by every process (the run, its supervisor, the workers): the study reaches its budget
with no trial left RUNNING. An outage longer than ``LRSEARCH_DB_OUTAGE_LIMIT`` stops the run cleanly (exit 1, no
traceback); the trial it cut short is failed and its config run again when the study resumes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pytest

from tests.conftest import digits_spec, run_cli, write_spec
from tests.fixtures_tasks.databases import query
from tests.runner.test_workers_postgres import finished, wait_for

pytestmark = pytest.mark.slow  # a PostgreSQL server of the test's own, stopped under real runs

RUNNING = optuna.trial.TrialState.RUNNING
OUTAGE_S = 6


def _start(path: Path, url: str, logs: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lrsearch", "run", str(path), "--storage", url, "--log-dir", str(logs), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=path.parent,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def a_training_trial(url: str, study: str) -> int | None:
    """A RUNNING trial that has reported an epoch: it is past loading its data and writes every epoch now."""
    rows = query(url, "SELECT t.number FROM trials t JOIN studies s ON s.study_id = t.study_id "
                      "JOIN trial_intermediate_values v ON v.trial_id = t.trial_id "
                      "WHERE s.study_name = :s AND t.state = 'RUNNING' ORDER BY t.number LIMIT 1", s=study)
    return rows[0]["number"] if rows else None


def _logs_text(logs: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in logs.rglob("*.log"))


def _check_study(url: str, name: str, budget: int) -> optuna.Study:
    study = optuna.load_study(study_name=name, storage=url)
    assert finished(study) == budget
    assert all(t.state != RUNNING for t in study.trials), [t.state for t in study.trials]
    assert sorted(t.number for t in study.trials) == list(range(len(study.trials)))
    return study


@pytest.mark.parametrize("workers", ["1", "2"], ids=["in-process", "two-workers"])
def test_a_restart_of_the_server_mid_run_is_waited_out(tmp_path: Path, own_postgres: Any, workers: str) -> None:
    spec = digits_spec("outage", budget={"trials": 3, "epochs": 12}, pruner={"name": "none"})
    path = write_spec(tmp_path, spec)
    logs = tmp_path / "logs"
    proc = _start(path, own_postgres.url, logs, "--workers", workers, env={"LRSEARCH_DB_OUTAGE_LIMIT": "5m"})
    try:
        wait_for(lambda: a_training_trial(own_postgres.url, "outage") is not None, what="a training trial")
        own_postgres.stop()
        time.sleep(OUTAGE_S)
        own_postgres.start()
        out, err = proc.communicate(timeout=500)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err + out
    assert "database unavailable" in err + _logs_text(logs)  # said where it happened, then waited
    assert "database reachable again" in err + _logs_text(logs)
    study = _check_study(own_postgres.url, "outage", 3)
    for trial in study.trials:  # a trial the outage failed anyway had its config run again
        if trial.state == optuna.trial.TrialState.FAIL:
            assert any(t.user_attrs.get("retry_of") == trial.number for t in study.trials), trial.number


def test_an_outage_past_the_limit_stops_cleanly_and_the_study_resumes(tmp_path: Path, own_postgres: Any) -> None:
    spec = digits_spec("long-outage", budget={"trials": 2, "epochs": 30}, pruner={"name": "none"})
    path = write_spec(tmp_path, spec)
    logs = tmp_path / "logs"
    env = {"LRSEARCH_DB_OUTAGE_LIMIT": "3", "LRSEARCH_HEARTBEAT_INTERVAL": "1", "LRSEARCH_HEARTBEAT_GRACE": "3"}
    proc = _start(path, own_postgres.url, logs, "--workers", "2", env=env)
    try:
        wait_for(lambda: a_training_trial(own_postgres.url, "long-outage") is not None, what="a training trial")
        number = a_training_trial(own_postgres.url, "long-outage")
        own_postgres.stop()  # and it stays down
        out, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    assert "Traceback" not in err + out
    assert "gave up after LRSEARCH_DB_OUTAGE_LIMIT=3 s" in err + out
    assert f"trial {number} is left RUNNING" in err + out  # the database could not be told; it says what follows

    own_postgres.start()
    resumed = run_cli("run", str(path), "--storage", own_postgres.url, "--log-dir", str(logs), env=env, timeout=400)
    assert resumed.returncode == 0, resumed.stderr
    study = _check_study(own_postgres.url, "long-outage", 2)
    cut = study.trials[number]
    assert cut.state == optuna.trial.TrialState.FAIL
    assert [t.params for t in study.trials if t.user_attrs.get("retry_of") == number] == [cut.params]
