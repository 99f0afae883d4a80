"""Looking at a study already in a database without writing anything: not a table, not SQLite's journal mode.

A run that will be refused must leave the database as it found it, so these reads go through a plain read-only
connection (SQLite: ``mode=ro``, or ``immutable=1`` where the file cannot be written), never through the tuned
engines that create tables and switch SQLite files to WAL.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from lrsearch.storage._urls import readonly_sqlite, sqlite_path
from lrsearch.storage.optuna_adapter import study_overview


@dataclass(frozen=True)
class ExistingStudy:
    """A study of that name found in the database."""

    name: str
    directions: tuple[str, ...]  # "minimize" / "maximize", one per objective
    trials: int
    by_lrsearch: bool  # lrsearch stored its spec for it


def existing_study(url: str, name: str) -> ExistingStudy | None:
    """The study ``name`` in ``url`` as it is now, or None when there is none (or no database yet)."""
    path = sqlite_path(url)
    if path is not None:
        if not path.exists() or path.stat().st_size == 0:
            return None
        engine = sa.create_engine("sqlite://", creator=lambda: readonly_sqlite(path), poolclass=sa.pool.NullPool)
    else:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            found = study_overview(conn, name)
            if found is None:
                return None
            ours = sa.inspect(conn).has_table("lrsearch_studies") and conn.execute(
                sa.text("SELECT 1 FROM lrsearch_studies WHERE study_name = :n"), {"n": name}).first() is not None
            conn.rollback()
    finally:
        engine.dispose()
    return ExistingStudy(name, found[0], found[1], bool(ours))
