"""End to end: ``lrsearch run`` on a temporary SQLite file, with real training on the digits task."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import optuna
import pytest

from lrsearch.schedules import lr_factor
from lrsearch.space import TrialConfig
from lrsearch.tasks import load_task
from tests.conftest import digits_spec, run_cli, write_spec

pytestmark = pytest.mark.slow  # a real 11-trial study run by the CLI, shared by the module


def _rows(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A study of 8 trials run by the real CLI, then resumed to 11."""
    tmp = tmp_path_factory.mktemp("run")
    spec = digits_spec("e2e", budget={"trials": 8, "epochs": 4})
    path = write_spec(tmp, spec)
    first = run_cli("run", str(path), "--quiet", check=True)
    assert "best trial #" in first.stdout
    db = tmp / "lrsearch.db"
    assert db.exists(), "the default storage is lrsearch.db next to the study file"
    second = run_cli("run", str(path), "--trials", "11", "--quiet", check=True)
    assert "this run:" in second.stdout
    return path, db


def test_trials_complete_and_some_are_pruned(finished_study: tuple[Path, Path]) -> None:
    _, db = finished_study
    study = optuna.load_study(study_name="e2e", storage=f"sqlite:///{db}")
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) >= 2
    assert states.count(optuna.trial.TrialState.PRUNED) >= 1
    assert optuna.trial.TrialState.RUNNING not in states


def test_second_run_resumes_to_the_total(finished_study: tuple[Path, Path]) -> None:
    _, db = finished_study
    study = optuna.load_study(study_name="e2e", storage=f"sqlite:///{db}")
    finished = [t for t in study.trials if t.state.is_finished() and t.state != optuna.trial.TrialState.FAIL]
    assert len(finished) == 11
    assert sorted(t.number for t in study.trials) == list(range(len(study.trials)))


def test_a_run_of_a_study_past_its_budget_says_how_to_run_more(finished_study: tuple[Path, Path]) -> None:
    path, db = finished_study
    again = run_cli("run", str(path), "--quiet", check=True)
    assert "this run: 0 complete, 0 pruned, 0 failed" in again.stdout
    assert ("nothing to run: the study's budget of 8 finished trials was reached already; raise budget.trials in "
            "the study file, or pass --trials N with N > 11") in again.stdout
    assert len(optuna.load_study(study_name="e2e", storage=f"sqlite:///{db}").trials) == 11


def test_recorded_lr_of_every_group_equals_the_schedule(finished_study: tuple[Path, Path]) -> None:
    _, db = finished_study
    task = load_task("digits", None, {})
    steps_per_epoch = math.ceil(len(task.train.x) / 64)
    checked = 0
    for number, config_json in _rows(db, "SELECT trial_number, config FROM lrsearch_trials WHERE study_name='e2e'"):
        config = TrialConfig.from_dict(json.loads(config_json))
        groups = {g.name: g for g in config.groups()}
        rows = _rows(db, "SELECT epoch, group_name, lr FROM lrsearch_group_epochs WHERE study_name='e2e' "
                         "AND trial_number=?", number)
        assert rows, f"trial {number} has no curve rows"
        epochs = {r[0] for r in rows}
        assert epochs == set(range(1, max(epochs) + 1))
        for epoch, group_name, lr in rows:
            base = groups[group_name.split(".")[0]]
            # the value the optimizer holds after the epoch's last step
            expected = base.lr * lr_factor(base.schedule, epoch * steps_per_epoch, steps_per_epoch, config.epochs)
            assert lr == pytest.approx(expected, rel=1e-9, abs=1e-15), (number, epoch, group_name)
            checked += 1
    assert checked > 50


def test_every_finished_trial_has_metrics_for_each_epoch_it_ran(finished_study: tuple[Path, Path]) -> None:
    _, db = finished_study
    study = optuna.load_study(study_name="e2e", storage=f"sqlite:///{db}")
    for trial in study.trials:
        rows = _rows(db, "SELECT epoch, metrics FROM lrsearch_epochs WHERE study_name='e2e' AND trial_number=? "
                         "ORDER BY epoch", trial.number)
        assert [r[0] for r in rows] == sorted(trial.intermediate_values)
        for epoch, metrics in rows:
            m = json.loads(metrics)
            assert set(m) >= {"train_loss", "val_loss", "val_accuracy"}
            assert m["val_accuracy"] == pytest.approx(trial.intermediate_values[epoch])


def test_a_changed_search_space_is_refused_and_nothing_is_written(finished_study: tuple[Path, Path], tmp_path: Path) -> None:
    path, db = finished_study
    spec = digits_spec("e2e", budget={"trials": 12, "epochs": 4})
    spec["groups"][0]["lr"] = {"low": 1e-4, "high": 0.1, "log": True}
    changed = write_spec(path.parent, spec, "changed.yaml")
    before = db.read_bytes(), _rows(db, "SELECT COUNT(*) FROM trials")
    proc = run_cli("run", str(changed), "--quiet")
    assert proc.returncode == 2
    assert "different search space" in proc.stderr and "groups" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _rows(db, "SELECT COUNT(*) FROM trials") == before[1]
