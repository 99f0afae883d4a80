"""Engine settings for long runs, the heartbeat settings, password hiding, and the trial records lrsearch keeps."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from lrsearch.errors import StorageError
from lrsearch.storage import (
    EpochRow,
    Store,
    engine_kwargs,
    heartbeat_settings,
    lrsearch_engine,
    optuna_storage,
    redact,
    redact_text,
)


def test_heartbeat_defaults_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LRSEARCH_HEARTBEAT_INTERVAL", raising=False)
    monkeypatch.delenv("LRSEARCH_HEARTBEAT_GRACE", raising=False)
    assert heartbeat_settings() == (10, 60)
    monkeypatch.setenv("LRSEARCH_HEARTBEAT_INTERVAL", "2")
    assert heartbeat_settings() == (2, 12)
    monkeypatch.setenv("LRSEARCH_HEARTBEAT_GRACE", "5")
    assert heartbeat_settings() == (2, 5)


@pytest.mark.parametrize(("interval", "grace", "message"), [
    ("0", "", "LRSEARCH_HEARTBEAT_INTERVAL must be a whole number of seconds >= 1, got '0'"),
    ("1.5", "", "LRSEARCH_HEARTBEAT_INTERVAL must be a whole number"),
    ("5", "soon", "LRSEARCH_HEARTBEAT_GRACE must be a whole number"),
    ("5", "5", "LRSEARCH_HEARTBEAT_GRACE must be longer than the heartbeat interval"),
])
def test_bad_heartbeat_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch, interval: str, grace: str,
                                                  message: str) -> None:
    monkeypatch.setenv("LRSEARCH_HEARTBEAT_INTERVAL", interval)
    monkeypatch.setenv("LRSEARCH_HEARTBEAT_GRACE", grace)
    with pytest.raises(StorageError, match=message):
        heartbeat_settings()


def test_optuna_storage_uses_the_heartbeat_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LRSEARCH_HEARTBEAT_INTERVAL", "1")
    monkeypatch.setenv("LRSEARCH_HEARTBEAT_GRACE", "3")
    storage = optuna_storage(f"sqlite:///{tmp_path / 'hb.db'}")
    assert (storage.heartbeat_interval, storage.grace_period) == (1, 3)


def test_passwords_are_hidden_in_urls_and_messages() -> None:
    url = "postgresql+psycopg://alice:p%40ss w0rd@db.example:5432/studies"
    assert redact(url) == "postgresql+psycopg://alice:***@db.example:5432/studies"
    message = 'connection failed for alice with password "p@ss w0rd" (p%40ss+w0rd)'
    assert "w0rd" not in redact_text(message, url)


def test_sqlite_files_are_written_in_wal_mode(tmp_path: Path) -> None:
    db = tmp_path / "wal.db"
    store = Store(f"sqlite:///{db}")
    store.ensure_schema()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert engine_kwargs(f"sqlite:///{db}")["connect_args"]["timeout"] >= 30


def test_postgresql_pools_ping_and_only_lrsearchs_rows_commit_asynchronously(postgres_url: str) -> None:
    assert engine_kwargs(postgres_url)["pool_pre_ping"] is True
    with lrsearch_engine(postgres_url).connect() as conn:
        assert conn.execute(sa.text("SHOW synchronous_commit")).scalar() == "off"
    with optuna_storage(postgres_url).engine.connect() as conn:
        assert conn.execute(sa.text("SHOW synchronous_commit")).scalar() == "on"
    lrsearch_engine(postgres_url).dispose()
    optuna_storage(postgres_url).engine.dispose()


def test_a_trial_failed_from_outside_gets_a_record_even_without_one(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'rec.db'}")
    store.ensure_schema()
    store.fail_trial("s", 3, reason="killed", error="died of SIGKILL", log_path="/logs/trial-3.log", worker="h:1")
    info = store.trial_info("s", 3)
    assert info is not None
    assert (info["fail_reason"], info["worker"], info["log_path"]) == ("killed", "h:1", "/logs/trial-3.log")
    store.start_trial("s", 4, config={}, seed=4, worker="h:2", device="cpu/1t")
    store.finish_trial("s", 4, fail_reason="oom", error="CUDA out of memory")
    store.fail_trial("s", 4, reason="killed", error="late")  # the reason the worker recorded stands
    assert store.trial_info("s", 4)["fail_reason"] == "oom"


def test_epochs_written_with_the_trials_end_land_in_one_transaction(tmp_path: Path) -> None:
    db = tmp_path / "ep.db"
    store = Store(f"sqlite:///{db}")
    store.ensure_schema()
    store.start_trial("s", 0, config={}, seed=0, worker="h:1", device="cpu/1t")
    rows = [EpochRow(e, 10 * e, 0.1 * e, {"val_accuracy": 0.5},
                     [{"optimizer": "main", "group_name": "head", "lr": 0.1, "momentum": None, "weight_decay": 0.0,
                       "frozen": False}]) for e in (1, 2, 3)]
    store.record_epochs("s", 0, rows[:1])
    store.finish_trial("s", 0, epochs=rows[1:])
    info = store.trial_info("s", 0)
    assert info["epochs_run"] == 3 and info["finished_at"] is not None
    with sqlite3.connect(db) as conn:
        assert [r[0] for r in conn.execute("SELECT epoch FROM lrsearch_epochs ORDER BY epoch")] == [1, 2, 3]
        assert conn.execute("SELECT COUNT(*) FROM lrsearch_group_epochs").fetchone()[0] == 3
