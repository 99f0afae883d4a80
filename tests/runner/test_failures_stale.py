"""Trials left RUNNING by a worker that vanished are failed as ``killed`` and queued again, whether or not they
had recorded a heartbeat; live trials are left alone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import optuna
import pytest
import sqlalchemy as sa

from lrsearch.config import parse_spec
from lrsearch.runner import open_study, reap_stale
from lrsearch.storage import lrsearch_engine, optuna_storage
from tests.conftest import digits_spec


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LRSEARCH_HEARTBEAT_INTERVAL", "5")
    monkeypatch.setenv("LRSEARCH_HEARTBEAT_GRACE", "30")
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'stale.db'}"
    return request.getfixturevalue("postgres_url")


def _age(url: str, trial_id: int, *, started_s: float, heartbeat_s: float | None) -> None:
    """Make a trial look as if it started (and last beat) that many seconds ago."""
    engine = optuna_storage(url).engine
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE trials SET datetime_start = :t WHERE trial_id = :i"),
                     {"t": now - dt.timedelta(seconds=started_s), "i": trial_id})
        if heartbeat_s is not None:
            server_now = conn.execute(sa.select(sa.func.now())).scalar().replace(tzinfo=None)
            conn.execute(sa.text("INSERT INTO trial_heartbeats (trial_id, heartbeat) VALUES (:i, :h)"),
                         {"i": trial_id, "h": server_now - dt.timedelta(seconds=heartbeat_s)})


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_lost_trials_are_failed_and_retried_live_ones_are_not(url: str) -> None:
    handle = open_study(parse_spec(digits_spec("stale")), url)
    trials = [handle.study.ask() for _ in range(4)]
    for trial in trials:
        handle.space.sample(trial)
    _age(url, trials[0]._trial_id, started_s=600, heartbeat_s=None)  # died before its first beat
    _age(url, trials[1]._trial_id, started_s=600, heartbeat_s=120)  # beat, then went silent
    _age(url, trials[2]._trial_id, started_s=600, heartbeat_s=2)  # alive: beat two seconds ago
    _age(url, trials[3]._trial_id, started_s=3, heartbeat_s=None)  # alive: too young for its first beat

    assert reap_stale(handle) == [0, 1]
    study = optuna.load_study(study_name="stale", storage=url)
    states = [t.state for t in study.trials]
    assert states[:4] == [optuna.trial.TrialState.FAIL] * 2 + [optuna.trial.TrialState.RUNNING] * 2
    assert all(study.trials[n].user_attrs["fail_reason"] == "killed" for n in (0, 1))
    retries = {t.user_attrs["retry_of"]: t for t in study.trials if "retry_of" in t.user_attrs}
    assert set(retries) == {0, 1}
    assert all(r.state == optuna.trial.TrialState.WAITING and r.system_attrs["fixed_params"] == study.trials[n].params
               for n, r in retries.items())
    with lrsearch_engine(url).connect() as conn:
        rows = conn.execute(sa.text("SELECT trial_number, fail_reason, error FROM lrsearch_trials "
                                    "WHERE study_name = 'stale' ORDER BY trial_number")).all()
    assert [(r[0], r[1]) for r in rows] == [(0, "killed"), (1, "killed")]
    assert "heartbeat" in rows[0][2]
    assert reap_stale(handle) == [], "each lost trial is failed once"
    optuna_storage.cache_clear()
