"""The storage the dashboard serves: Optuna's RDBStorage with lrsearch's engine settings.

Why the stock ``optuna-dashboard sqlite:///x.db`` can make a running study fail (optuna-dashboard #545): it
opens the file with SQLAlchemy's defaults, i.e. SQLite's rollback journal (unless the file is already in WAL
mode) and pysqlite's 5 s busy timeout, and re-reads *every* trial of the study on each poll of each open page.
In rollback-journal mode every one of those SELECTs holds a SHARED lock, and a writer can only commit once no
SHARED lock is held: the study's writers queue behind the dashboard's reads, and a writer with a short busy
timeout (Optuna's default storage has 5 s) gives up with ``database is locked`` when the reads are slow (big
studies, busy CPUs). In WAL mode readers never block writers. So the dashboard serves through a storage that:

- puts the database in WAL mode before serving (a one-off, persistent switch; lrsearch's own engines already
  use WAL), with a 60 s busy timeout on each of its connections;
- with ``read_only``, opens connections that cannot write at all (SQLite ``PRAGMA query_only``; PostgreSQL
  ``default_transaction_read_only``), so the dashboard can never take a write lock;
- skips Optuna's table creation and schema checks (it reads what the runs wrote).
"""

from __future__ import annotations

import sqlite3
import warnings
from typing import Any

import optuna
from sqlalchemy import event

from lrsearch.errors import StorageError
from lrsearch.storage import (
    SQLITE_BUSY_TIMEOUT_S,
    check_storage,
    engine_kwargs,
    parse_url,
    redact,
    redact_text,
    sqlite_path,
)


def ensure_wal(url: str, *, required: bool = True) -> str | None:
    """Switch a SQLite database to WAL mode (persistent); returns the journal mode it had (None if not SQLite).

    Not ``required`` (a read-only dashboard), a file that cannot be switched (no write permission) is served as
    it is: nothing can be writing to it then."""
    path = sqlite_path(url)
    if path is None:
        return None
    conn = sqlite3.connect(str(path), timeout=SQLITE_BUSY_TIMEOUT_S)
    try:
        mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
        if mode != "wal":
            conn.execute("PRAGMA journal_mode=WAL")
        return mode
    except sqlite3.DatabaseError as exc:
        if not required:
            return None
        raise StorageError(f"cannot put {path} in WAL mode for the dashboard: {exc}") from None
    finally:
        conn.close()


def _sqlite_reader_pragmas(read_only: bool):  # noqa: ANN202 - an SQLAlchemy event listener
    def on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        if read_only:
            cur.execute("PRAGMA query_only=ON")
        else:
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return on_connect


def dashboard_storage(url: str, *, read_only: bool = False) -> optuna.storages.RDBStorage:
    """An RDBStorage on ``url`` for serving the dashboard (see the module docstring for why)."""
    check_storage(url, create=False)
    backend = parse_url(url).get_backend_name()
    kwargs = engine_kwargs(url)
    if backend == "sqlite":
        ensure_wal(url, required=not read_only)
    else:  # a few browser tabs poll at once; lrsearch's worker-sized pool would make them queue
        kwargs = {**kwargs, "pool_size": 4, "max_overflow": 4}
    if read_only and backend == "postgresql":
        kwargs = {**kwargs, "connect_args": {"options": "-c default_transaction_read_only=on"}}
    elif read_only and backend == "mysql":
        kwargs = {**kwargs, "connect_args": {"init_command": "SET SESSION TRANSACTION READ ONLY"}}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs, skip_compatibility_check=True,
                                                 skip_table_creation=True)
    except Exception as exc:
        reason = redact_text(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, url)
        raise StorageError(f"cannot open {redact(url)} for the dashboard: {reason}") from None
    if backend == "sqlite":
        event.listen(storage.engine, "connect", _sqlite_reader_pragmas(read_only))
        storage.engine.dispose()  # connections opened during __init__ lack the pragmas
    return storage
