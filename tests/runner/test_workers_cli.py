"""``lrsearch run --workers`` on a SQLite file, ``lrsearch worker`` on it, Ctrl-C, and the options' errors."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import optuna
import pytest

from tests.conftest import digits_spec, run_cli, start_cli, write_spec

pytestmark = pytest.mark.slow  # real runs with worker processes


def _rows(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute(sql, args).fetchall()


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """16 trials run by 2 local worker processes on the default SQLite file."""
    tmp = tmp_path_factory.mktemp("local")
    path = write_spec(tmp, digits_spec("local", budget={"trials": 16, "epochs": 2}))
    proc = run_cli("run", str(path), "--workers", "2", timeout=400)
    assert proc.returncode == 0, proc.stderr
    return path, tmp / "lrsearch.db", proc


def test_two_workers_share_a_sqlite_file_without_lock_errors(local: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    _, db, proc = local
    assert "locked" not in proc.stderr + proc.stdout
    study = optuna.load_study(study_name="local", storage=f"sqlite:///{db}")
    states = [t.state for t in study.trials]
    finished = states.count(optuna.trial.TrialState.COMPLETE) + states.count(optuna.trial.TrialState.PRUNED)
    assert finished == 16 and len(states) == 16, states
    workers = _rows(db, "SELECT DISTINCT worker, device FROM lrsearch_trials")
    assert len(workers) == 2 and {d for _, d in workers} == {"cpu/1t"}
    assert "16/16 finished" in proc.stderr


def test_each_trial_logs_next_to_the_database(local: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    _, db, _ = local
    for number, log_path in _rows(db, "SELECT trial_number, log_path FROM lrsearch_trials"):
        assert Path(log_path) == db.parent / "lrsearch-logs" / "local" / f"trial-{number}.log"
        assert Path(log_path).exists()


def test_worker_with_nothing_left_to_do_says_so(local: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    _, db, _ = local
    proc = run_cli("worker", env={"LRSEARCH_STORAGE": f"sqlite:///{db}"})
    assert proc.returncode == 0, proc.stderr
    assert "every study has reached its budget" in proc.stdout
    assert len(_rows(db, "SELECT number FROM trials")) == 16


def test_run_takes_its_storage_from_the_environment_and_workers_0_only_stores_the_study(tmp_path: Path) -> None:
    path = write_spec(tmp_path, digits_spec("stored", budget={"trials": 5, "epochs": 1}))
    elsewhere = tmp_path / "shared" / "studies.db"
    elsewhere.parent.mkdir()
    proc = run_cli("run", str(path), "--workers", "0", "--trials", "7",
                   env={"LRSEARCH_STORAGE": f"sqlite:///{elsewhere}"})
    assert proc.returncode == 0, proc.stderr
    assert f"ready in sqlite:///{elsewhere}: 0 of 7 trials finished" in proc.stdout
    assert not (tmp_path / "lrsearch.db").exists(), "the variable wins over the spec's default storage"
    # nothing has run: only the study's recipes are queued (WAITING), once
    assert _rows(elsewhere, "SELECT COUNT(*) FROM trials WHERE state != 'WAITING'") == [(0,)]
    (stored,) = _rows(elsewhere, "SELECT spec FROM lrsearch_studies")
    assert json.loads(stored[0])["budget"]["trials"] == 7, "workers read the budget given with --trials"


@pytest.mark.parametrize(("args", "env", "needles"), [
    (["worker"], {"LRSEARCH_STORAGE": ""}, ["--storage is required", "LRSEARCH_STORAGE"]),
    (["worker", "--study", "nope"], None, ["no lrsearch study 'nope'", "local"]),
    (["worker", "--device", "cuda:0"], None, ["--device: cuda:0 does not exist", "no GPU"]),
    (["worker", "--device", "tpu"], None, ["--device: 'tpu' is not a device"]),
    (["worker"], {"LRSEARCH_WORKERS": "many", "LRSEARCH_STORAGE": "DB"}, ["LRSEARCH_WORKERS must be a whole number"]),
    (["worker", "--poll", "soon"], None, ["--poll must be a duration"]),
    (["run", "SPEC", "--workers", "2", "--device", "cuda:1"], None, ["--device: cuda:1 does not exist"]),
    (["run", "SPEC", "--workers", "-1"], None, ["--workers must be >= 0"]),
    (["run", "SPEC", "--device", "cpu", "--trials-per-device", "0"], None, ["--trials-per-device must be >= 1"]),
])
def test_bad_options_exit_2_with_the_reason_and_change_nothing(
    local: tuple[Path, Path, subprocess.CompletedProcess[str]], args: list[str], env: dict[str, str] | None,
    needles: list[str],
) -> None:
    path, db, _ = local
    before = _rows(db, "SELECT COUNT(*) FROM trials")
    env = {k: v.replace("DB", f"sqlite:///{db}") for k, v in (env or {"LRSEARCH_STORAGE": "DB"}).items()}
    proc = run_cli(*[str(path) if a == "SPEC" else a for a in args], env={"LRSEARCH_STORAGE": "", **env})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr
    assert _rows(db, "SELECT COUNT(*) FROM trials") == before


def test_ctrl_c_interrupts_the_workers_trials_and_queues_them_again(tmp_path: Path) -> None:
    spec = digits_spec("stop", budget={"trials": 4, "epochs": 60}, pruner={"name": "none"})
    path = write_spec(tmp_path, spec)
    db = tmp_path / "lrsearch.db"
    proc = start_cli("run", str(path), "--workers", "2", "--quiet")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:  # until both workers are inside a trial
        time.sleep(0.3)
        try:
            if len(_rows(db, "SELECT 1 FROM lrsearch_trials WHERE finished_at IS NULL")) == 2:
                break
        except sqlite3.OperationalError:
            pass
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    study = optuna.load_study(study_name="stop", storage=f"sqlite:///{db}")
    interrupted = [n for (n,) in _rows(db, "SELECT trial_number FROM lrsearch_trials WHERE fail_reason = 'interrupted'")]
    assert len(interrupted) == 2
    assert optuna.trial.TrialState.RUNNING not in [t.state for t in study.trials]
    queued = [t for t in study.trials if t.state == optuna.trial.TrialState.WAITING]
    assert sorted(t.user_attrs["retry_of"] for t in queued) == sorted(interrupted)
