"""Engines for Optuna's RDBStorage and lrsearch's own tables, with settings fit for long runs."""

from __future__ import annotations

import os
import sqlite3
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine

from lrsearch.errors import StorageError
from lrsearch.storage._urls import (
    check_sqlite_file,
    check_sqlite_writable,
    parse_url,
    readonly_sqlite,
    redact,
    secret_values,
    sqlite_path,
    sqlite_writable,
)

SQLITE_BUSY_TIMEOUT_S = 60
HEARTBEAT_INTERVAL_S = 10
HEARTBEAT_GRACE_FACTOR = 6
# How many times a trial whose worker died is run again (Optuna's heartbeat retry and lrsearch's supervisor).
MAX_RETRIES = 2


def heartbeat_settings() -> tuple[int, int]:
    """``(interval, grace period)`` in seconds: every running trial records a heartbeat each interval; one
    silent for the grace period is failed (reason ``killed``) and retried. ``LRSEARCH_HEARTBEAT_INTERVAL`` and
    ``LRSEARCH_HEARTBEAT_GRACE`` override the defaults (10 s and 60 s)."""
    interval = _positive_int_env("LRSEARCH_HEARTBEAT_INTERVAL", HEARTBEAT_INTERVAL_S)
    grace = _positive_int_env("LRSEARCH_HEARTBEAT_GRACE", interval * HEARTBEAT_GRACE_FACTOR)
    if grace <= interval:
        raise StorageError(f"LRSEARCH_HEARTBEAT_GRACE must be longer than the heartbeat interval ({interval} s), "
                           f"got {grace}")
    return interval, grace


def _positive_int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise StorageError(f"{name} must be a whole number of seconds >= 1, got {raw!r}")
    return value


def engine_kwargs(url: str, *, own_tables: bool = False) -> dict[str, Any]:
    """Engine settings for ``url``; ``own_tables`` for the engine of lrsearch's tables (not Optuna's)."""
    backend = parse_url(url).get_backend_name()
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is not None and path.exists() and not sqlite_writable(path):
            # A file nobody can write (read-only mount, chattr +i): read it as it is, without SQLite's -shm file.
            return {"creator": lambda: readonly_sqlite(path)}
        # check_same_thread off: the heartbeat thread shares the pool.
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}}
    # pool_pre_ping: long trials leave pooled connections idle for hours; servers and proxies drop them.
    # A small pool per process (main thread + heartbeat thread), so that many workers fit max_connections.
    kwargs: dict[str, Any] = {"pool_pre_ping": True, "pool_recycle": 1800, "pool_size": 2, "max_overflow": 2}
    if backend == "postgresql" and own_tables and parse_url(url).get_driver_name() in ("psycopg", "psycopg2"):
        # lrsearch's rows (curves, trial records) need not wait for a WAL flush: a server crash can lose the last
        # fraction of a second of them, never corrupt them. Optuna's own writes keep the server's setting.
        kwargs["connect_args"] = {"options": "-c synchronous_commit=off", "application_name": "lrsearch"}
    return kwargs


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers (the dashboard, other workers) read while a worker writes; NORMAL sync in WAL mode is
    # durable against process crashes (not power loss) and avoids an fsync per commit.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cur.close()


def tune_engine(engine: Engine) -> Engine:
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if database and database != ":memory:" and os.path.exists(database) and not sqlite_writable(Path(database)):
        return engine  # opened read-only (engine_kwargs): no journal mode to set
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        engine.dispose()  # connections made before the listener existed would lack the pragmas
    return engine


def check_storage(url: str, *, create: bool, write: bool | None = None) -> None:
    """Fail early, without writing, when the storage is malformed, foreign, corrupt or unreachable, or (``write``,
    which ``create`` implies) cannot be written."""
    path = sqlite_path(url)
    if path is not None:
        check_sqlite_file(path)
        if not create and not path.exists():
            raise StorageError(f"no database at {path}; run a study first (lrsearch run study.yaml)")
        if create if write is None else write:
            check_sqlite_writable(path)
        return
    engine = sqlalchemy.create_engine(url, **engine_kwargs(url))
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))
    except Exception as exc:  # driver errors vary; all mean the same to the user
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(f"cannot connect to {redact(url)}: {redact_text(reason, url)}") from None
    finally:
        engine.dispose()


def redact_text(text: str, url: str) -> str:
    """``text`` (an error message, a log line) with every password of ``url`` replaced by ***."""
    from urllib.parse import quote, quote_plus

    for password in secret_values(url):
        for form in sorted({password, quote_plus(password), quote(password, safe="")}, key=len, reverse=True):
            text = text.replace(form, "***")
    return text


@lru_cache(maxsize=8)
def optuna_storage(url: str, heartbeat: bool = True) -> optuna.storages.RDBStorage:
    """Optuna's storage for ``url`` (one per process and URL), with lrsearch's engine settings."""
    kwargs: dict[str, Any] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.simplefilter("ignore", FutureWarning)
            if heartbeat:
                interval, grace = heartbeat_settings()
                kwargs = {
                    "heartbeat_interval": interval,
                    "grace_period": grace,
                    "heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(
                        max_retry=MAX_RETRIES),
                }
            storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs(url), **kwargs)
    except StorageError:
        raise
    except Exception as exc:
        raise StorageError(f"cannot open {redact(url)} as an Optuna storage: {redact_text(str(exc).splitlines()[0], url)}") from None
    tune_engine(storage.engine)
    return storage


@lru_cache(maxsize=8)
def lrsearch_engine(url: str) -> Engine:
    """The SQLAlchemy engine for lrsearch's own tables (same database as Optuna's)."""
    return tune_engine(sqlalchemy.create_engine(url, **engine_kwargs(url, own_tables=True)))
