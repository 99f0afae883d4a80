"""Races between processes started at the same moment on one SQLite file: two first runs of a new study, two
``confirm`` runs. Each pair is started together, a few times, and every process must succeed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from tests.conftest import digits_spec, run_cli, write_spec

pytestmark = pytest.mark.slow  # pairs of real runs started together


def _together(*commands: list[str], cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "lrsearch", *c], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=cwd, env=env) for c in commands]
    done = []
    for proc, command in zip(procs, commands, strict=True):
        out, err = proc.communicate(timeout=400)
        done.append(subprocess.CompletedProcess(command, proc.returncode, out, err))
    return done


def test_two_first_runs_at_once_on_a_new_sqlite_file(tmp_path: Path) -> None:
    for attempt in range(2):
        folder = tmp_path / f"try{attempt}"
        folder.mkdir()
        path = write_spec(folder, digits_spec("race", budget={"trials": 4, "epochs": 2}))
        for proc in _together(["run", str(path), "--quiet"], ["run", str(path), "--quiet"], cwd=folder):
            assert proc.returncode == 0, proc.stderr
            assert "Traceback" not in proc.stderr
        study = optuna.load_study(study_name="race", storage=f"sqlite:///{folder / 'lrsearch.db'}")
        finished = [t for t in study.trials if t.state.is_finished() and t.state != optuna.trial.TrialState.FAIL]
        assert len(finished) == 4, "the two runs shared one budget"
        assert sorted(t.number for t in study.trials) == list(range(len(study.trials)))


def test_two_confirm_runs_at_once(tmp_path: Path) -> None:
    path = write_spec(tmp_path, digits_spec("confirmed", budget={"trials": 2, "epochs": 2}))
    run_cli("run", str(path), "--quiet", check=True, cwd=tmp_path)
    db = f"sqlite:///{tmp_path / 'lrsearch.db'}"
    for _ in range(2):
        command = ["confirm", "--storage", db, "--study", "confirmed", "--top", "1", "--seeds", "2", "--quiet"]
        for proc in _together(command, command, cwd=tmp_path):
            assert proc.returncode == 0, proc.stderr
            assert "corrupt" not in proc.stderr and "Traceback" not in proc.stderr
            assert "confirmed ranking" in proc.stdout
