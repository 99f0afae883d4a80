"""Room to record a stop when the disk fills up.

With the disk full, SQLite cannot write a byte, not even the one update that marks the running trial failed: it
would stay RUNNING. So lrsearch keeps a small reserve file beside a SQLite database (``lrsearch.db.reserve``,
256 KiB) and deletes it when a write fails for lack of space: that is enough room to fail the trial, queue its
config again and stop. The next run makes the reserve again (when there is room for it).
"""

from __future__ import annotations

import os
from pathlib import Path

from lrsearch.storage._urls import sqlite_path

RESERVE_BYTES = 256 * 1024


def reserve_path(url: str) -> Path | None:
    path = sqlite_path(url)
    return None if path is None else path.with_name(path.name + ".reserve")


def keep_reserve(url: str) -> None:
    """Make the reserve beside a SQLite database if it is missing (silently not, when there is no room)."""
    path = reserve_path(url)
    if path is None or (path.exists() and path.stat().st_size >= RESERVE_BYTES):
        return
    try:
        with open(path, "wb") as fh:
            fh.write(b"\0" * RESERVE_BYTES)  # written, not sparse: the blocks are really taken
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:
        path.unlink(missing_ok=True)


def release_reserve(url: str) -> bool:
    """Delete the reserve, giving its room to the database. True when there was one."""
    path = reserve_path(url)
    if path is None or not path.exists():
        return False
    path.unlink(missing_ok=True)
    return True
