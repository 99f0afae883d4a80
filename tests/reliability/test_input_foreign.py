"""Studies and trials lrsearch did not make: a plain Optuna study of the same name is refused without writing a
byte; trials added to an lrsearch study with plain ``study.optimize`` leave best, compare and the summary working."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import optuna
import pytest

from tests.conftest import run_cli, write_spec
from tests.reliability._helpers import digest, refused, tiny_spec

pytestmark = pytest.mark.slow  # real runs beside studies lrsearch did not make


def _plain_optuna_study(db: Path, name: str, direction: str, trials: int) -> None:
    study = optuna.create_study(study_name=name, storage=f"sqlite:///{db}", direction=direction)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=trials)


def _journal_mode(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()


def _untouched(db: Path, before: str) -> None:
    assert digest(db) == before
    assert _journal_mode(db) == "delete", "the file was switched to WAL"
    assert not Path(f"{db}-wal").exists()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
    assert not any(t.startswith("lrsearch_") for t in tables), tables


def test_a_plain_optuna_study_of_the_same_name_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "lrsearch.db"
    _plain_optuna_study(db, "t", "maximize", trials=3)
    before = digest(db)
    proc = run_cli("run", str(write_spec(tmp_path, tiny_spec("t"))), cwd=tmp_path)
    refused(proc, "already holds an Optuna study named 't' (3 trial(s))", "did not create", "another name")
    _untouched(db, before)
    assert len(optuna.load_study(study_name="t", storage=f"sqlite:///{db}").trials) == 3


def test_a_direction_that_differs_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    db = tmp_path / "lrsearch.db"
    _plain_optuna_study(db, "t", "minimize", trials=0)  # empty: lrsearch would take it over, but not reversed
    before = digest(db)
    proc = run_cli("run", str(write_spec(tmp_path, tiny_spec("t"))), cwd=tmp_path)
    refused(proc, "objective.direction", "exists with direction minimize")
    _untouched(db, before)


def test_trials_added_with_plain_optuna_leave_best_compare_and_summary_working(tmp_path: Path) -> None:
    path = write_spec(tmp_path, tiny_spec("mixed", trials=2))
    first = run_cli("run", str(path), "--quiet", cwd=tmp_path, check=True)
    ours = int(first.stdout.split("best trial #")[1].split(":")[0])
    study = optuna.load_study(study_name="mixed", storage=f"sqlite:///{tmp_path / 'lrsearch.db'}")
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + 5.0, n_trials=2)  # better than any real accuracy
    assert study.best_trial.number in (2, 3)

    best = run_cli("best", str(path), cwd=tmp_path)
    assert best.returncode == 0, best.stderr
    assert f"trial #{ours} (best search score)" in best.stdout and "optimizer" in best.stdout
    compare = run_cli("compare", str(path), cwd=tmp_path)
    assert compare.returncode == 0, compare.stderr
    assert f"(#{ours})" in compare.stdout and "5." not in compare.stdout.split("best")[1].splitlines()[0]
    chosen = run_cli("best", str(path), "--trial", "3", cwd=tmp_path)
    refused(chosen, "trial #3", "was not run by lrsearch")
    again = run_cli("run", str(path), "--quiet", "--trials", "5", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert "2 finished trial(s) not run by lrsearch" in again.stdout and "#2, #3" in again.stdout
    assert f"best trial #{ours}" in again.stdout or "best trial #4" in again.stdout
