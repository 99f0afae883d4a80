"""Every kind of trial failure, provoked for real in worker processes on PostgreSQL: the trial fails with its
reason, traceback or log, and the study goes on to its budget."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest

from tests.conftest import ROOT, digits_spec, run_cli, write_spec
from tests.fixtures_tasks.databases import fresh_postgres_database, query

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# trial number -> what the misbehaving model does in it (tests/fixtures_tasks/misbehaving.py). The segfault comes
# last, so that its retry gets a number past all of these and trains normally.
FAILURES = {"1": "raise", "2": "nan", "3": "oom", "4": "hang", "5": "slow", "6": "segfault"}
EXPECTED = {1: "exception", 2: "nan", 3: "oom", 4: "timeout", 5: "timeout", 6: "killed"}
FIXTURE_ENV = {"PYTHONPATH": str(ROOT)}


def misbehaving_spec(name: str, trials: int, failures: dict[str, str], **budget: Any) -> dict[str, Any]:
    return digits_spec(
        name, budget={"trials": trials, "epochs": 2, **budget}, pruner={"name": "none"},
        task={"entrypoint": "tests.fixtures_tasks.misbehaving:build", "device": "cpu", "threads": 1,
              "options": {"failures": failures}},
    )


def lrsearch_rows(url: str, study: str) -> dict[int, dict[str, Any]]:
    rows = query(url, "SELECT * FROM lrsearch_trials WHERE study_name = :s", s=study)
    return {r["trial_number"]: r for r in rows}


@pytest.fixture(scope="module")
def failed_study(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    with fresh_postgres_database() as url:
        tmp = tmp_path_factory.mktemp("failures")
        path = write_spec(tmp, misbehaving_spec("failing", 4, FAILURES, trial_timeout=6))
        logs = tmp / "logs"
        proc = run_cli("run", str(path), "--storage", url, "--workers", "2", "--log-dir", str(logs),
                       env=FIXTURE_ENV, timeout=400)
        assert proc.returncode == 0, proc.stderr
        yield url, logs, proc.stdout + proc.stderr


def test_each_failure_kind_is_recorded_with_its_reason(failed_study: tuple[str, Path, str]) -> None:
    url, _, output = failed_study
    study = optuna.load_study(study_name="failing", storage=url)
    rows = lrsearch_rows(url, "failing")
    for number, reason in EXPECTED.items():
        trial = study.trials[number]
        assert trial.state == optuna.trial.TrialState.FAIL, (number, trial.state)
        assert rows[number]["fail_reason"] == reason, (number, rows[number]["error"])
        assert trial.user_attrs["fail_reason"] == reason
    assert "RuntimeError: fixture: trial 1 raises on purpose" in rows[1]["error"]
    assert "Traceback" in rows[1]["error"]
    assert "loss is nan" in rows[2]["error"]
    assert "CUDA out of memory" in rows[3]["error"]
    assert "killed its worker" in rows[4]["error"]  # hung: the supervisor killed it
    assert "ran past budget.trial_timeout" in rows[5]["error"]  # slow: the trial's own deadline check stopped it
    assert "killed its worker" not in rows[5]["error"]
    assert "died of SIGSEGV" in rows[6]["error"] and "Segmentation fault" in rows[6]["error"]
    assert "Traceback" not in output  # tracebacks go to the database and the trial's log, not the terminal


def test_the_study_goes_on_to_its_budget(failed_study: tuple[str, Path, str]) -> None:
    url, _, _ = failed_study
    study = optuna.load_study(study_name="failing", storage=url)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 4
    assert optuna.trial.TrialState.RUNNING not in states
    assert sorted(t.number for t in study.trials) == list(range(len(study.trials)))


def test_a_killed_trial_is_retried_but_oom_and_timeout_are_not(failed_study: tuple[str, Path, str]) -> None:
    url, _, _ = failed_study
    study = optuna.load_study(study_name="failing", storage=url)
    retries = {t.user_attrs["retry_of"]: t for t in study.trials if "retry_of" in t.user_attrs}
    assert set(retries) == {6}, "only the segfaulted (killed) config runs again"
    assert retries[6].params == study.trials[6].params
    assert retries[6].state == optuna.trial.TrialState.COMPLETE


def test_every_trial_has_its_own_log_file(failed_study: tuple[str, Path, str]) -> None:
    url, logs, _ = failed_study
    rows = lrsearch_rows(url, "failing")
    for number, row in rows.items():
        log = Path(row["log_path"])
        assert log == logs / "failing" / f"trial-{number}.log"
        text = log.read_text()
        assert f"fixture: trial {number} starts" in text, (number, text[:500])
        assert f"fixture: stderr of trial {number}" in text
    assert "Fatal Python error: Segmentation fault" in Path(rows[6]["log_path"]).read_text()
    assert "raises on purpose" in Path(rows[1]["log_path"]).read_text()
