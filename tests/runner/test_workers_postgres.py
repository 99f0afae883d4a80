"""Worker processes sharing PostgreSQL studies: exact budgets, a worker killed mid-trial, a whole remote worker
lost (found by its silent heartbeat), and ``lrsearch worker`` configured by environment variables."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy as sa

from lrsearch.config import parse_spec
from lrsearch.runner import open_study
from tests.conftest import digits_spec, run_cli, write_spec
from tests.fixtures_tasks.databases import fresh_postgres_database, query
from tests.fixtures_tasks.sleepy import rendezvous_env, sleepy_spec

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

COMPLETE, PRUNED, FAIL = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
                          optuna.trial.TrialState.FAIL)


def finished(study: optuna.Study) -> int:
    return sum(1 for t in study.trials if t.state in (COMPLETE, PRUNED))


def wait_for(condition: Callable[[], Any], timeout: float = 180, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except sa.exc.ProgrammingError:  # lrsearch's tables are not created yet
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def a_running_trial(url: str, study: str) -> tuple[int, int] | None:
    """``(trial number, worker pid)`` of a trial that has been running for a moment."""
    rows = query(url, "SELECT trial_number, worker FROM lrsearch_trials WHERE study_name = :s AND finished_at IS NULL "
                      "AND started_at < now() - interval '0.5 seconds' ORDER BY trial_number LIMIT 1", s=study)
    return (rows[0]["trial_number"], int(rows[0]["worker"].rsplit(":", 1)[1])) if rows else None


@pytest.fixture(scope="module")
def sixty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """60 trials of one study run by 3 local worker processes."""
    with fresh_postgres_database() as url:
        tmp = tmp_path_factory.mktemp("sixty")
        path = write_spec(tmp, digits_spec("sixty", budget={"trials": 60, "epochs": 2}))
        proc = run_cli("run", str(path), "--storage", url, "--workers", "3", timeout=600, cwd=tmp)
        assert proc.returncode == 0, proc.stderr
        assert "this run: " in proc.stdout
        yield url


def test_three_workers_finish_exactly_the_budget_with_unique_trials(sixty: str) -> None:
    study = optuna.load_study(study_name="sixty", storage=sixty)
    numbers = [t.number for t in study.trials]
    assert sorted(numbers) == list(range(len(numbers))), "trial numbers are unique and none is missing"
    assert finished(study) == 60
    assert all(t.state in (COMPLETE, PRUNED) for t in study.trials), [t.state for t in study.trials]
    rows = query(sixty, "SELECT trial_number, worker, finished_at FROM lrsearch_trials WHERE study_name = 'sixty'")
    assert sorted(r["trial_number"] for r in rows) == numbers
    assert all(r["finished_at"] is not None for r in rows)
    assert len({r["worker"] for r in rows}) == 3, "three processes shared the trials"


def test_every_finished_trial_has_its_curve_rows(sixty: str) -> None:
    study = optuna.load_study(study_name="sixty", storage=sixty)
    epochs = query(sixty, "SELECT trial_number, epoch FROM lrsearch_epochs WHERE study_name = 'sixty'")
    groups = query(sixty, "SELECT trial_number, epoch, group_name FROM lrsearch_group_epochs "
                          "WHERE study_name = 'sixty'")
    for trial in study.trials:
        ran = sorted(e["epoch"] for e in epochs if e["trial_number"] == trial.number)
        assert ran == sorted(trial.intermediate_values), trial.number
        for epoch in ran:
            names = {g["group_name"].split(".")[0] for g in groups
                     if g["trial_number"] == trial.number and g["epoch"] == epoch}
            assert names == {"head", "backbone"}, (trial.number, epoch, names)


def test_a_worker_killed_mid_trial_fails_that_trial_and_its_config_runs_again(tmp_path: Path,
                                                                               postgres_url: str) -> None:
    spec = digits_spec("chaos", budget={"trials": 4, "epochs": 30}, pruner={"name": "none"})
    path = write_spec(tmp_path, spec)
    proc = subprocess.Popen([sys.executable, "-m", "lrsearch", "run", str(path), "--storage", postgres_url,
                             "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        number, pid = wait_for(lambda: a_running_trial(postgres_url, "chaos"), what="a running trial")
        os.kill(pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=400)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert f"trial {number} failed (killed)" in err
    row = query(postgres_url, "SELECT fail_reason, error FROM lrsearch_trials WHERE study_name = 'chaos' "
                              "AND trial_number = :n", n=number)[0]
    assert row["fail_reason"] == "killed" and "SIGKILL" in row["error"]
    study = optuna.load_study(study_name="chaos", storage=postgres_url)
    assert study.trials[number].state == FAIL
    retried = [t for t in study.trials if t.user_attrs.get("retry_of") == number]
    assert len(retried) == 1 and retried[0].params == study.trials[number].params
    assert retried[0].state == COMPLETE
    assert finished(study) == 4
    assert all(t.state != optuna.trial.TrialState.RUNNING for t in study.trials)


def test_a_lost_remote_worker_is_found_by_its_silent_heartbeat(tmp_path: Path, postgres_url: str) -> None:
    spec = parse_spec(digits_spec("remote", budget={"trials": 3, "epochs": 30}, pruner={"name": "none"}))
    open_study(spec, postgres_url)  # what `lrsearch run --workers 0` does
    env = {**os.environ, "LRSEARCH_STORAGE": postgres_url, "LRSEARCH_HEARTBEAT_INTERVAL": "1",
           "LRSEARCH_HEARTBEAT_GRACE": "3", "PYTHONUNBUFFERED": "1"}
    # A worker on "another machine": its supervisor and worker process die together (a lost node).
    lost = subprocess.Popen([sys.executable, "-m", "lrsearch", "worker", "--study", "remote"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd=tmp_path)
    try:
        number, _ = wait_for(lambda: a_running_trial(postgres_url, "remote"), what="a running trial")
    finally:
        os.killpg(lost.pid, signal.SIGKILL)
        lost.wait()
    study = optuna.load_study(study_name="remote", storage=postgres_url)
    assert study.trials[number].state == optuna.trial.TrialState.RUNNING, "nobody saw it die"
    second = run_cli("worker", "--study", "remote", env=env, timeout=400, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    row = query(postgres_url, "SELECT fail_reason, error FROM lrsearch_trials WHERE study_name = 'remote' "
                              "AND trial_number = :n", n=number)[0]
    assert row["fail_reason"] == "killed" and "heartbeat" in row["error"]
    study = optuna.load_study(study_name="remote", storage=postgres_url)
    assert study.trials[number].state == FAIL
    assert [t.params for t in study.trials if t.user_attrs.get("retry_of") == number] == [study.trials[number].params]
    assert finished(study) == 3


def test_worker_takes_its_settings_from_the_environment_and_never_shows_the_password(tmp_path: Path,
                                                                                     postgres_url: str) -> None:
    # The server trusts local connections, so any password is accepted: enough to check that none leaks.
    url = sa.make_url(postgres_url).set(username="postgres", password="s3cret-pw").render_as_string(
        hide_password=False)
    path = write_spec(tmp_path, sleepy_spec("first", trials=3, epochs=1))
    # The trials can import the sleepy task from this checkout; each waits until both workers have one (the
    # first worker up cannot run them all however late the second starts), and an epoch sleeps 0.1 s.
    test_env = rendezvous_env(tmp_path / "rendezvous", workers=2)
    created = run_cli("run", str(path), "--storage", url, "--workers", "0", check=True, env=test_env)
    assert "postgres:***@" in created.stdout and "s3cret-pw" not in created.stdout + created.stderr
    assert finished(optuna.load_study(study_name="first", storage=postgres_url)) == 0, "--workers 0 runs nothing"
    open_study(parse_spec(sleepy_spec("second", trials=2, epochs=1)), url)
    logs = tmp_path / "worker-logs"
    proc = run_cli("worker", env={"LRSEARCH_STORAGE": url, "LRSEARCH_WORKERS": "2", "LRSEARCH_LOG_DIR": str(logs),
                                  **test_env}, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert "s3cret-pw" not in output and "postgres:***@" in output
    assert "2 worker process(es)" in proc.stderr
    for name, trials in (("first", 3), ("second", 2)):  # no --study: every study with budget left
        assert finished(optuna.load_study(study_name=name, storage=postgres_url)) == trials
        assert len(list((logs / name).glob("trial-*.log"))) >= trials
    stored = query(postgres_url, "SELECT spec FROM lrsearch_studies")
    assert stored and all("s3cret-pw" not in str(r["spec"]) for r in stored)
    assert len({r["worker"] for r in query(postgres_url, "SELECT worker FROM lrsearch_trials")}) == 2, \
        "both worker processes ran trials"
