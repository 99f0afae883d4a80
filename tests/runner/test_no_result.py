"""A run that produced no result says so with its exit code, and the same error is not retried blindly: the run
stops after a few trials failing the same way, naming the error and the trial's log (real runs, real failures of
tests/fixtures_tasks/misbehaving.py)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from tests.conftest import ROOT, digits_spec, run_cli, write_spec

pytestmark = pytest.mark.slow  # real runs whose trials fail

FAIL = optuna.trial.TrialState.FAIL


def _misbehaving(name: str, trials: int, failures: dict[str, str]) -> dict:
    return digits_spec(name, budget={"trials": trials, "epochs": 1}, pruner={"name": "none"},
                       task={"entrypoint": "tests.fixtures_tasks.misbehaving:build", "device": "cpu", "threads": 1,
                             "options": {"failures": failures}})


@pytest.mark.parametrize("workers", ["1", "2"], ids=["in-process", "two-workers"])
def test_the_same_error_again_and_again_stops_the_run(tmp_path: Path, workers: str) -> None:
    every = {str(n): "raise" for n in range(30)}
    path = write_spec(tmp_path, _misbehaving("broken", 20, every))
    proc = run_cli("run", str(path), "--workers", workers, env={"PYTHONPATH": str(ROOT)}, timeout=400, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "failed with the same error, so the next would too: RuntimeError: fixture: trial" in proc.stderr
    log = tmp_path / "lrsearch-logs" / "broken" / "trial-0.log"
    assert ("trial 0 failed (exception): RuntimeError: fixture: trial 0 raises on purpose; "
            "log: lrsearch-logs/broken/trial-0.log") in proc.stderr
    assert "RuntimeError: fixture: trial 0 raises on purpose" in log.read_text()
    study = optuna.load_study(study_name="broken", storage=f"sqlite:///{tmp_path / 'lrsearch.db'}")
    failed = [t for t in study.trials if t.state == FAIL]
    assert 3 <= len(failed) <= 3 + int(workers), "stopped after three, not after ten"
    assert "(stopped: repeated error)" in proc.stdout and "no trial has completed yet" in proc.stdout


def test_a_run_where_every_trial_failed_exits_non_zero(tmp_path: Path) -> None:
    # NaN depends on the config, so it is not "the same error": the run goes on until its --timeout, and still
    # has no result.
    every = {str(n): "nan" for n in range(30)}
    path = write_spec(tmp_path, _misbehaving("diverges", 5, every))
    proc = run_cli("run", str(path), "--timeout", "1", env={"PYTHONPATH": str(ROOT)}, timeout=400, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "trial 0 failed (nan): training loss is nan in epoch 1" in proc.stderr
    assert "error: no trial of study 'diverges' has completed" in proc.stderr


def test_some_failures_among_completed_trials_still_exit_zero(tmp_path: Path) -> None:
    path = write_spec(tmp_path, _misbehaving("mixed", 3, {"0": "raise", "2": "raise"}))
    proc = run_cli("run", str(path), env={"PYTHONPATH": str(ROOT)}, timeout=400, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "trial 0 failed (exception): RuntimeError: fixture: trial 0 raises on purpose" in proc.stderr
