"""Every use of Optuna's private API and every raw query on Optuna's tables, in one place.

lrsearch leans on a few Optuna internals for measured reasons: one heartbeat thread per process (a commit per
trial saved), ``tell`` without reading the finished trial back, trial counts and fingerprints in one indexed SQL
query instead of loading every trial. Each of them is fenced here, so that an Optuna release that moves one
breaks this module alone, and ``tests/storage/test_optuna_canary.py`` names the symbol that moved.

The Optuna versions this was tested with are pinned in ``pyproject.toml`` (``OPTUNA_TESTED`` below says which).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import optuna
import sqlalchemy as sa
from optuna.storages._heartbeat import BaseHeartbeat, is_heartbeat_enabled

OPTUNA_TESTED = (">=5.0", "<5.1")

__all__ = [
    "BaseHeartbeat", "OPTUNA_TESTED", "count_trials_by_state", "fingerprint_query", "heartbeat_backend",
    "heartbeat_enabled", "stale_trial_ids", "storage_of", "study_id", "study_id_by_name", "study_overview",
    "tell_quietly", "trial_id", "write_user_attrs",
]


def study_id(study: optuna.Study) -> int:
    """The study's row id in Optuna's ``studies`` table."""
    return study._study_id


def trial_id(trial: optuna.Trial | optuna.trial.FrozenTrial) -> int:
    """The trial's row id in Optuna's ``trials`` table (``number`` counts within a study; this does not)."""
    return trial._trial_id


def storage_of(study: optuna.Study) -> optuna.storages.BaseStorage:
    """The storage a study reads and writes through (Optuna's cached storage around the RDB one)."""
    return study._storage


def heartbeat_backend(storage: optuna.storages.BaseStorage) -> optuna.storages.BaseStorage:
    """The RDB storage under Optuna's per-study cache: heartbeats go to the database, not through the cache."""
    return getattr(storage, "_backend", storage)


def heartbeat_enabled(storage: optuna.storages.BaseStorage) -> bool:
    return is_heartbeat_enabled(storage)


def tell_quietly(study: optuna.Study, trial: optuna.Trial, state: optuna.trial.TrialState,
                 value: float | None = None) -> None:
    """``study.tell`` without reading the finished trial back (``tell`` returns a copy nobody here uses)."""
    try:
        from optuna.study._tell import _tell_with_warning
    except ImportError:  # pragma: no cover - the canary test fails loudly first
        study.tell(trial, value, state=state)
        return
    _tell_with_warning(study=study, trial=trial, value_or_values=value, state=state, suppress_warning=True)


def stale_trial_ids(study: optuna.Study) -> list[int]:
    """RUNNING trials of ``study`` whose heartbeat is older than the grace period, or that have none and started
    longer than the grace period ago (a worker that died before its first beat)."""
    storage = storage_of(study)
    if not is_heartbeat_enabled(storage):
        return []
    assert isinstance(storage, BaseHeartbeat)
    sid = study_id(study)
    stale = set(storage._get_stale_trial_ids(sid))
    backend = heartbeat_backend(storage)
    grace = getattr(backend, "grace_period", None) or 2 * (storage.get_heartbeat_interval() or 0)
    # Optuna stores datetime_start as naive UTC.
    cutoff = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(seconds=grace)
    query = sa.text(
        "SELECT t.trial_id FROM trials t LEFT JOIN trial_heartbeats h ON h.trial_id = t.trial_id "
        "WHERE t.study_id = :sid AND t.state = 'RUNNING' AND h.trial_id IS NULL AND t.datetime_start < :cutoff"
    )
    with backend.engine.connect() as conn:  # type: ignore[attr-defined]
        stale.update(r[0] for r in conn.execute(query, {"sid": sid, "cutoff": cutoff}))
    return sorted(stale)


def count_trials_by_state(conn: sa.Connection, sid: int) -> Sequence[tuple[Any, int]]:
    """(state, count) rows for one study, in one indexed query (cheap at thousands of trials)."""
    query = sa.text("SELECT state, COUNT(*) FROM trials WHERE study_id = :sid GROUP BY state")
    return [(state, int(n)) for state, n in conn.execute(query, {"sid": sid}).all()]


def fingerprint_query(conn: sa.Connection, study_name: str) -> tuple[Any, ...]:
    """(trials, finished trials, last completion time) of a study: changes whenever a trial starts or ends."""
    sql = sa.text(
        "SELECT COUNT(*), SUM(CASE WHEN t.state = 'RUNNING' THEN 0 ELSE 1 END), MAX(t.datetime_complete) "
        "FROM trials t JOIN studies s ON s.study_id = t.study_id WHERE s.study_name = :name"
    )
    return tuple(conn.execute(sql, {"name": study_name}).one())


def write_user_attrs(conn: sa.Connection, trial: int, attrs: dict[str, Any]) -> None:
    """Set a trial's user attributes in the caller's transaction (``Trial.set_user_attr`` commits once per
    attribute: tens of milliseconds each on SQLite). A retried or enqueued trial may carry these keys already
    (Optuna's retry callback copies the failed trial's user attributes): this trial's values replace them."""
    # Optuna's table, named through SQLAlchemy so that each dialect quotes ``key`` (reserved in MySQL).
    table = sa.table("trial_user_attributes", sa.column("trial_id"), sa.column("key"), sa.column("value_json"))
    conn.execute(table.delete().where(table.c.trial_id == trial, table.c.key.in_(list(attrs))))
    conn.execute(table.insert(), [{"trial_id": trial, "key": k, "value_json": json.dumps(v)} for k, v in attrs.items()])


def study_id_by_name(conn: sa.Connection, study_name: str) -> int | None:
    """The id optuna-dashboard uses in its URLs, or None where no such study is stored."""
    row = conn.execute(sa.text("SELECT study_id FROM studies WHERE study_name = :n"), {"n": study_name}).first()
    return int(row[0]) if row else None


def study_overview(conn: sa.Connection, study_name: str) -> tuple[tuple[str, ...], int] | None:
    """``(directions, number of trials)`` of a study as stored, or None where there is none (nor Optuna's tables).
    Reads only: a run that is refused must not have created a table."""
    if not sa.inspect(conn).has_table("studies"):
        return None
    sid = study_id_by_name(conn, study_name)
    if sid is None:
        return None
    directions = conn.execute(sa.text("SELECT direction FROM study_directions WHERE study_id = :sid ORDER BY objective"),
                              {"sid": sid}).scalars().all()
    trials = conn.execute(sa.text("SELECT COUNT(*) FROM trials WHERE study_id = :sid"), {"sid": sid}).scalar_one()
    return tuple(str(d).split(".")[-1].lower() for d in directions), int(trials)
