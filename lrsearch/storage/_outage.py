"""Riding out a database that is briefly unreachable (a PostgreSQL restart, a failover, a network blip).

Every database call a run, a worker or a supervisor makes while trials run goes through :func:`retrying`: when the
server is unreachable it waits and tries again with a growing pause (0.5 s, 1 s, 2 s ... at most 15 s), for up to
``LRSEARCH_DB_OUTAGE_LIMIT`` (default 10 minutes) in all, then raises :class:`DatabaseUnavailable`. Pooled
connections the restart broke are replaced on the next checkout (``pool_pre_ping``).

Only errors that mean "the server is not there right now" are retried: a refused or dropped connection, a server
shutting down, SQLite's "database is locked". A full disk, a missing table or a constraint violation is not an
outage and is raised at once.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from lrsearch.errors import DatabaseUnavailable, DiskFull, StorageError

T = TypeVar("T")

OUTAGE_LIMIT_S = 600.0
FIRST_PAUSE_S = 0.5
MAX_PAUSE_S = 15.0
LIMIT_ENV = "LRSEARCH_DB_OUTAGE_LIMIT"

# Messages of errors that are not outages even when the driver files them under OperationalError.
_NOT_OUTAGE = ("disk is full", "disk i/o error", "no such table", "readonly database", "malformed", "not a database",
               "no space left")


def outage_limit() -> float:
    """Seconds to wait for the database before giving up: ``$LRSEARCH_DB_OUTAGE_LIMIT`` (90, 30s, 10m), else 10 min."""
    raw = os.environ.get(LIMIT_ENV, "").strip()
    if not raw:
        return OUTAGE_LIMIT_S
    from lrsearch.config import parse_duration

    try:
        value = parse_duration(raw)
    except ValueError as exc:
        raise StorageError(f"{LIMIT_ENV} {exc}") from None
    assert value is not None
    return value


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) says the database server cannot be reached right now."""
    import sqlalchemy.exc as sa_exc
    from optuna.exceptions import StorageInternalError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current).lower()
        if any(marker in text for marker in _NOT_OUTAGE):
            return False
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            return True
        if isinstance(current, StorageInternalError) or isinstance(current, sa_exc.PendingRollbackError):
            current = current.__cause__ or current.__context__
            continue
        current = current.__cause__
    return False


def is_disk_full(exc: BaseException) -> bool:
    """True for "database or disk is full" (SQLite), "No space left on device" (the server's or ours)."""
    import errno

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(current).lower()
        if "disk is full" in text or "no space left" in text or "disk quota exceeded" in text:
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


def disk_full(exc: BaseException, url: str | None = None) -> DiskFull:
    where = ""
    if url:
        from lrsearch.storage._urls import redact, sqlite_path

        path = sqlite_path(url)
        where = f" (the database {path})" if path is not None else f" (the database server of {redact(url)})"
    return DiskFull(f"the disk is full{where}: {describe_outage(exc, url)}. Free some space and run again: the study "
                    "resumes where it stopped")


def describe_outage(exc: BaseException, url: str | None = None) -> str:
    """The first line of the driver's message, with the URL's password hidden."""
    inner: BaseException = exc
    while getattr(inner, "orig", None) is not None or (inner.__cause__ is not None and inner.__cause__ is not inner):
        inner = getattr(inner, "orig", None) or inner.__cause__  # type: ignore[assignment]
    lines = str(inner).strip().splitlines()
    text = lines[0] if lines else type(inner).__name__
    if url:
        from lrsearch.storage._engine import redact_text

        text = redact_text(text, url)
    return text


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _pause(seconds: float) -> None:
    """Sleep, waking at once for a Ctrl-C or SIGTERM that was held back (``interrupts_held``) meanwhile."""
    from lrsearch.interrupt import stop_requested

    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if stop_requested():
            raise KeyboardInterrupt
        time.sleep(min(0.2, left))


def retrying(call: Callable[[], T], *, what: str, url: str | None = None, limit: float | None = None,
             say: Callable[[str], object] = _say, sleep: Callable[[float], object] = _pause) -> T:
    """``call()``, tried again while the database is unreachable, for up to ``limit`` seconds in all.

    ``what`` names the operation in the messages ("asking for a trial"). A Ctrl-C or SIGTERM during a pause stops
    the wait at once (``KeyboardInterrupt``), even where interrupts are held back.
    """
    limit = outage_limit() if limit is None else limit
    started = time.monotonic()
    pause = FIRST_PAUSE_S
    announced = False
    while True:
        try:
            result = call()
        except Exception as exc:
            if is_disk_full(exc):
                raise disk_full(exc, url) from None
            if not is_outage(exc):
                raise
            waited = time.monotonic() - started
            reason = describe_outage(exc, url)
            if waited >= limit:
                raise DatabaseUnavailable(
                    f"the database stayed unreachable for {waited:.0f} s while {what} ({reason}); gave up after "
                    f"{LIMIT_ENV}={limit:g} s"
                ) from None
            if not announced:
                say(f"lrsearch: database unavailable while {what} ({reason}); retrying for up to {limit:g} s")
                announced = True
            sleep(min(pause, max(0.0, limit - waited)))
            pause = min(MAX_PAUSE_S, pause * 2)
            continue
        if announced:
            say(f"lrsearch: database reachable again after {time.monotonic() - started:.1f} s ({what})")
        return result
