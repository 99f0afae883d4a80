"""Engines for Optuna's RDBStorage and lrsearch's own tables, with settings fit for long runs."""

from __future__ import annotations

import sqlite3
import warnings
from functools import lru_cache
from typing import Any

import optuna
import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine

from lrsearch.errors import StorageError
from lrsearch.storage._urls import check_sqlite_file, parse_url, redact, sqlite_path

SQLITE_BUSY_TIMEOUT_S = 60
HEARTBEAT_INTERVAL_S = 10


def engine_kwargs(url: str) -> dict[str, Any]:
    backend = parse_url(url).get_backend_name()
    if backend == "sqlite":
        # check_same_thread off: the heartbeat thread shares the pool.
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}}
    # pool_pre_ping: long trials leave pooled connections idle for hours; servers and proxies drop them.
    return {"pool_pre_ping": True, "pool_recycle": 1800, "pool_size": 2, "max_overflow": 4}


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers (the dashboard, other workers) read while a worker writes; NORMAL sync in WAL mode is
    # durable against process crashes (not power loss) and avoids an fsync per commit.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cur.close()


def tune_engine(engine: Engine) -> Engine:
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        engine.dispose()  # connections made before the listener existed would lack the pragmas
    return engine


def check_storage(url: str, *, create: bool) -> None:
    """Fail early, without writing, when the storage is malformed, foreign, corrupt or unreachable."""
    path = sqlite_path(url)
    if path is not None:
        check_sqlite_file(path)
        if not create and not path.exists():
            raise StorageError(f"no database at {path}; run a study first (lrsearch run study.yaml)")
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
    password = parse_url(url).password
    return text.replace(password, "***") if password else text


@lru_cache(maxsize=8)
def optuna_storage(url: str, heartbeat: bool = True) -> optuna.storages.RDBStorage:
    """Optuna's storage for ``url`` (one per process and URL), with lrsearch's engine settings."""
    kwargs: dict[str, Any] = {}
    if heartbeat:
        kwargs = {
            "heartbeat_interval": HEARTBEAT_INTERVAL_S,
            "grace_period": HEARTBEAT_INTERVAL_S * 6,
            "heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2),
        }
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.simplefilter("ignore", FutureWarning)
            storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs(url), **kwargs)
    except Exception as exc:
        raise StorageError(f"cannot open {redact(url)} as an Optuna storage: {redact_text(str(exc).splitlines()[0], url)}") from None
    tune_engine(storage.engine)
    return storage


@lru_cache(maxsize=8)
def lrsearch_engine(url: str) -> Engine:
    """The SQLAlchemy engine for lrsearch's own tables (same database as Optuna's)."""
    return tune_engine(sqlalchemy.create_engine(url, **engine_kwargs(url)))
