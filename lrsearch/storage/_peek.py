"""Looking at a study already in a database without writing anything: not a table, not SQLite's journal mode.

A run that will be refused must leave the database as it found it, so these reads go through a plain read-only
connection (SQLite: ``mode=ro``, or ``immutable=1`` where the file's directory cannot be written), never through
the tuned engines that create tables and switch SQLite files to WAL.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from lrsearch.storage._urls import readonly_sqlite, sqlite_path


@dataclass(frozen=True)
class ExistingStudy:
    """A study of that name found in the database."""

    name: str
    directions: tuple[str, ...]  # "minimize" / "maximize", one per objective
    trials: int
    by_lrsearch: bool  # lrsearch stored its spec for it


_STUDY = "SELECT study_id FROM studies WHERE study_name = :n"
_DIRECTIONS = "SELECT direction FROM study_directions WHERE study_id = :sid ORDER BY objective"
_TRIALS = "SELECT COUNT(*) FROM trials WHERE study_id = :sid"
_OURS = "SELECT 1 FROM lrsearch_studies WHERE study_name = :n"


def existing_study(url: str, name: str) -> ExistingStudy | None:
    """The study ``name`` in ``url`` as it is now, or None when there is none (or no database yet)."""
    path = sqlite_path(url)
    if path is not None:
        if not path.exists() or path.stat().st_size == 0:
            return None
        conn = readonly_sqlite(path)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "studies" not in tables:
                return None
            row = conn.execute(_STUDY.replace(":n", "?"), (name,)).fetchone()
            if row is None:
                return None
            sid = row[0]
            directions = [r[0] for r in conn.execute(_DIRECTIONS.replace(":sid", "?"), (sid,))]
            trials = conn.execute(_TRIALS.replace(":sid", "?"), (sid,)).fetchone()[0]
            ours = "lrsearch_studies" in tables and conn.execute(_OURS.replace(":n", "?"), (name,)).fetchone()
        finally:
            conn.close()
    else:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                inspector = sa.inspect(conn)
                if not inspector.has_table("studies"):
                    return None
                row = conn.execute(sa.text(_STUDY), {"n": name}).first()
                if row is None:
                    return None
                sid = row[0]
                directions = [r[0] for r in conn.execute(sa.text(_DIRECTIONS), {"sid": sid})]
                trials = conn.execute(sa.text(_TRIALS), {"sid": sid}).scalar_one()
                ours = inspector.has_table("lrsearch_studies") and conn.execute(sa.text(_OURS), {"n": name}).first()
                conn.rollback()
        finally:
            engine.dispose()
    return ExistingStudy(name, tuple(str(d).split(".")[-1].lower() for d in directions), int(trials), bool(ours))
