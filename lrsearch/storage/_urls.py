"""Storage URLs: parsing, hiding passwords, checking that a database is one lrsearch may write to."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from lrsearch.errors import StorageError

SUPPORTED = ("sqlite", "postgresql", "mysql")
# Tables Optuna's RDBStorage creates; a SQLite file holding other tables and none of these is someone else's.
OPTUNA_TABLES = {"studies", "trials", "version_info", "alembic_version"}
_CHECK_ATTEMPTS = 6
_TRANSIENT = ("disk i/o error", "locked", "unable to open")


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StorageError(
            f"storage URL {redact(url)!r} is malformed ({exc}); expected e.g. sqlite:///lrsearch.db or "
            "postgresql+psycopg://user:password@host:5432/database"
        ) from None
    if parsed.get_backend_name() not in SUPPORTED:
        raise StorageError(
            f"storage URL {redact(url)!r} uses {parsed.get_backend_name()!r}; supported: sqlite, postgresql "
            "(postgresql+psycopg://...), mysql"
        )
    return parsed


def redact(url: str) -> str:
    """The URL with its password replaced by ***; safe for logs, progress lines and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        # An unparsable URL may still carry a password: cut out whatever sits between ':' and '@'.
        if "@" in url and "://" in url:
            scheme, rest = url.split("://", 1)
            creds, host = rest.rsplit("@", 1)
            user = creds.split(":", 1)[0]
            return f"{scheme}://{user}:***@{host}"
        return url


def sqlite_path(url: str) -> Path | None:
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def check_sqlite_file(path: Path) -> None:
    """Refuse a file that is not SQLite, or is a SQLite database of another application."""
    if not path.exists():
        if not path.parent.exists():
            raise StorageError(f"cannot create the SQLite database {path}: directory {path.parent} does not exist")
        return
    if path.is_dir():
        raise StorageError(f"storage path {path} is a directory, not a SQLite database file")
    if path.stat().st_size == 0:
        return
    with open(path, "rb") as fh:
        header = fh.read(16)
    if header != b"SQLite format 3\x00":
        raise StorageError(
            f"{path} is not a SQLite database (corrupt, or a different kind of file); lrsearch will not touch it. "
            "Point storage at another file."
        )
    for attempt in range(_CHECK_ATTEMPTS):
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            try:
                tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                conn.execute("PRAGMA quick_check(1)").fetchone()
            finally:
                conn.close()
            break
        except sqlite3.DatabaseError as exc:
            # A read-only connection opened while another process closes the database (and removes its -wal and
            # -shm files) can fail with "disk I/O error" or "locked" on a healthy file: look again before judging.
            if attempt + 1 < _CHECK_ATTEMPTS and any(m in str(exc).lower() for m in _TRANSIENT):
                time.sleep(0.2 * (attempt + 1))
                continue
            raise StorageError(f"{path} is a corrupt SQLite database ({exc}); lrsearch will not touch it") from None
    if tables and not (tables & OPTUNA_TABLES):
        shown = ", ".join(sorted(tables)[:6])
        raise StorageError(
            f"{path} is a SQLite database of another application (tables: {shown}); lrsearch will not write to it. "
            "Point storage at a new file."
        )
