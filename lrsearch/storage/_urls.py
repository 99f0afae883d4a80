"""Storage URLs: parsing, hiding passwords, checking that a database is one lrsearch may write to."""

from __future__ import annotations

import os
import re
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

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
            "(postgresql+psycopg://...), mysql (mysql+pymysql://..., MySQL or MariaDB)"
        )
    _check_driver(parsed, url)
    return parsed


# Drivers lrsearch's extras install, per backend; another driver named in the URL must be installed by the user.
_DRIVER_EXTRAS = {"postgresql": ("psycopg", "postgres"), "mysql": ("pymysql", "mysql")}


def _check_driver(parsed: URL, url: str) -> None:
    """A missing database driver is a clear error naming the extra to install, not an ImportError traceback."""
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return
    try:
        parsed.get_dialect().import_dbapi()
    except ImportError as exc:
        default, extra = _DRIVER_EXTRAS.get(backend, ("", ""))
        hint = (f"install it with pip install 'lrsearch[{extra}]' and use {backend}+{default}://..."
                if extra else "install that driver")
        raise StorageError(f"storage URL {redact(url)!r} needs the database driver {parsed.get_driver_name()!r}, "
                           f"which is not installed ({exc}); {hint}") from None
    except Exception:
        return  # an unknown driver name: SQLAlchemy's own error at connect time says which


def _is_secret_key(key: str) -> bool:
    """Query parameters that carry a password (``?password=``, libpq's ``sslpassword``, MySQL's ``passwd``)."""
    key = key.lower()
    return "password" in key or "passwd" in key or key in ("pwd", "secret", "token")


def secret_values(url: str) -> list[str]:
    """Every password ``url`` carries: in ``user:password@`` and in query parameters."""
    try:
        parsed = make_url(url)
    except Exception:
        return []
    values = [str(parsed.password)] if parsed.password else []
    for key, value in parsed.query.items():
        if _is_secret_key(key):
            values += [value] if isinstance(value, str) else list(value)
    return [v for v in values if v]


def redact(url: str) -> str:
    """The URL with its passwords (``user:pw@`` and ``?password=``) replaced by ***; safe for logs, progress
    lines, error messages and the spec stored in the database."""
    try:
        parsed = make_url(url)
        hidden = {k: "***" for k in parsed.query if _is_secret_key(k)}
        if hidden:
            parsed = parsed.update_query_dict(hidden)
        return parsed.render_as_string(hide_password=True).replace("=%2A%2A%2A", "=***")
    except Exception:
        # An unparsable URL may still carry a password: cut out whatever sits between ':' and '@', and the
        # value of any password-like query parameter.
        if "@" in url and "://" in url:
            scheme, rest = url.split("://", 1)
            creds, host = rest.rsplit("@", 1)
            user = creds.split(":", 1)[0]
            url = f"{scheme}://{user}:***@{host}"
        return _SECRET_QUERY.sub(lambda m: m.group(1) + "***", url)


_SECRET_QUERY = re.compile(r"([?&;](?:[^=&;]*(?:password|passwd|pwd|secret|token)[^=&;]*)=)[^&;#]*", re.IGNORECASE)


def sqlite_path(url: str) -> Path | None:
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def check_sqlite_file(path: Path) -> None:
    """Refuse a file that is not SQLite, or is a SQLite database of another application."""
    if not path.exists():
        if not path.parent.exists():
            raise StorageError(f"no SQLite database at {path}: directory {path.parent} does not exist")
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
            conn = readonly_sqlite(path)
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


def readonly_sqlite(path: Path) -> sqlite3.Connection:
    """A connection that cannot write to ``path``. ``mode=ro`` still needs to create the ``-shm`` file of a WAL
    database; where the file or its directory cannot be written (a read-only mount, ``chattr +i``), nobody can
    be changing it, so it is opened ``immutable``."""
    target = quote(str(path.resolve()))
    if sqlite_writable(path):
        return sqlite3.connect(f"file:{target}?mode=ro", uri=True, timeout=30, check_same_thread=False)
    return sqlite3.connect(f"file:{target}?mode=ro&immutable=1", uri=True, timeout=30, check_same_thread=False)


def sqlite_writable(path: Path) -> bool:
    """Whether SQLite can write ``path``: the file and its directory (journal and WAL files live beside it)."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def why_not_writable(path: Path) -> str:
    try:
        if os.statvfs(path.parent).f_flag & os.ST_RDONLY:
            return "it lies on a read-only filesystem"
    except OSError:
        pass
    if not os.access(path, os.W_OK):
        return "the file cannot be written (its permissions, or it is marked immutable with chattr +i)"
    return f"its directory {path.parent} cannot be written (SQLite keeps its journal beside the file)"


def check_sqlite_writable(path: Path) -> None:
    """Refuse, before anything is attempted, to run trials in a SQLite file this process cannot write."""
    if path.exists() and not sqlite_writable(path):
        raise StorageError(
            f"{path} is read-only here: {why_not_writable(path)}. lrsearch can read it (export, best, compare) "
            "but cannot run trials in it; copy it somewhere writable, or make it "
            "writable."
        )
    if not path.exists() and path.parent.exists() and not os.access(path.parent, os.W_OK):
        raise StorageError(f"cannot create the SQLite database {path}: {why_not_writable(path / 'x')}")
