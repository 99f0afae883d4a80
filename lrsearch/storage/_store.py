"""Reads and writes of lrsearch's own tables. One short transaction per call."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from lrsearch.errors import StorageError
from lrsearch.storage import _tables as t
from lrsearch.storage._engine import lrsearch_engine
from lrsearch.storage._urls import redact


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class EpochRow:
    """One epoch of one trial as recorded: the metrics row and one row per parameter group."""

    epoch: int
    step: int
    wall_time: float
    metrics: dict[str, Any]
    groups: Sequence[dict[str, Any]] = field(default_factory=list)


class Store:
    """lrsearch's tables in the database at ``url``."""

    _ready: set[str] = set()

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = lrsearch_engine(url)

    def ensure_schema(self) -> None:
        if self.url in Store._ready:
            return
        try:
            t.metadata.create_all(self.engine, checkfirst=True)
        except OperationalError as exc:
            # Two workers creating the tables at once: the loser sees "already exists"; re-check.
            if "already exists" not in str(exc):
                raise StorageError(f"cannot create lrsearch's tables in {redact(self.url)}: {str(exc.orig).strip()}") from None
            t.metadata.create_all(self.engine, checkfirst=True)
        except SQLAlchemyError as exc:
            if "already exists" not in str(exc) and "duplicate key" not in str(exc):
                raise StorageError(f"cannot create lrsearch's tables in {redact(self.url)}: {exc}") from None
        Store._ready.add(self.url)

    def has_schema(self) -> bool:
        return sa.inspect(self.engine).has_table(t.studies.name)

    # -- studies --------------------------------------------------------------------------------------------

    def saved_spec(self, study_name: str) -> dict[str, Any] | None:
        if not self.has_schema():
            return None
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.studies).where(t.studies.c.study_name == study_name)).mappings().first()
        return dict(row) if row else None

    def save_spec(self, study_name: str, spec: dict[str, Any], spec_hash: str, source: str | None, version: str) -> None:
        now = _now()
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(t.studies.c.study_name).where(t.studies.c.study_name == study_name)).first()
            if exists:
                conn.execute(
                    t.studies.update()
                    .where(t.studies.c.study_name == study_name)
                    .values(spec=spec, spec_hash=spec_hash, source=source, lrsearch_version=version, updated_at=now)
                )
            else:
                conn.execute(
                    t.studies.insert().values(
                        study_name=study_name, spec=spec, spec_hash=spec_hash, source=source, lrsearch_version=version,
                        schema_version=t.SCHEMA_VERSION, created_at=now, updated_at=now,
                    )
                )

    def study_names(self) -> list[str]:
        if not self.has_schema():
            return []
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(sa.select(t.studies.c.study_name).order_by(t.studies.c.study_name))]

    # -- trials ---------------------------------------------------------------------------------------------

    def start_trial(self, study_name: str, number: int, *, config: dict[str, Any], seed: int, worker: str,
                    device: str, log_path: str | None = None, trial_id: int | None = None,
                    user_attrs: dict[str, Any] | None = None) -> None:
        """The trial's record; with ``trial_id``, also ``user_attrs`` as the Optuna trial's user attributes.

        The attributes go into Optuna's own table in the same transaction: ``Trial.set_user_attr`` would commit
        once per attribute (tens of milliseconds each on SQLite).
        """
        with self.engine.begin() as conn:
            conn.execute(
                t.trials.insert().values(
                    study_name=study_name, trial_number=number, config=config, seed=seed, worker=worker,
                    device=device, log_path=log_path, epochs_run=0, started_at=_now(),
                )
            )
            if trial_id is not None and user_attrs:
                from lrsearch.storage.optuna_adapter import write_user_attrs

                write_user_attrs(conn, trial_id, user_attrs)

    def record_epochs(self, study_name: str, number: int, rows: Sequence[EpochRow]) -> None:
        """Epochs of one trial, their metrics rows and group rows, in one transaction."""
        if rows:
            with self.engine.begin() as conn:
                self._insert_epochs(conn, study_name, number, rows)

    def _insert_epochs(self, conn: sa.Connection, study_name: str, number: int, rows: Sequence[EpochRow],
                       finished: dict[str, Any] | None = None) -> None:
        key = {"study_name": study_name, "trial_number": number}
        conn.execute(t.epochs.insert(), [
            {**key, "epoch": r.epoch, "step": r.step, "wall_time": r.wall_time, "metrics": r.metrics} for r in rows
        ])
        groups = [{**key, "epoch": r.epoch, **g} for r in rows for g in r.groups]
        if groups:
            conn.execute(t.group_epochs.insert(), groups)
        conn.execute(
            t.trials.update()
            .where(t.trials.c.study_name == study_name, t.trials.c.trial_number == number)
            .values(epochs_run=max(r.epoch for r in rows), **(finished or {}))
        )

    def finish_trial(self, study_name: str, number: int, *, fail_reason: str | None = None,
                     error: str | None = None, log_path: str | None = None,
                     epochs: Sequence[EpochRow] = ()) -> None:
        """Close the trial's record, writing its last unwritten ``epochs`` in the same transaction."""
        values: dict[str, Any] = {"finished_at": _now(), "fail_reason": fail_reason, "error": error}
        if log_path is not None:
            values["log_path"] = log_path
        with self.engine.begin() as conn:
            if epochs:
                self._insert_epochs(conn, study_name, number, epochs, finished=values)
            else:
                conn.execute(
                    t.trials.update()
                    .where(t.trials.c.study_name == study_name, t.trials.c.trial_number == number)
                    .values(**values)
                )

    def fail_trial(self, study_name: str, number: int, *, reason: str, error: str, log_path: str | None = None,
                   worker: str | None = None) -> None:
        """Record a trial failed from outside its worker (killed, timed out), creating its row if the worker died
        before writing it. A reason already recorded is kept."""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(t.trials.c.fail_reason, t.trials.c.finished_at)
                .where(t.trials.c.study_name == study_name, t.trials.c.trial_number == number)
            ).first()
            if row is None:
                conn.execute(t.trials.insert().values(
                    study_name=study_name, trial_number=number, worker=worker, log_path=log_path, epochs_run=0,
                    fail_reason=reason, error=error, finished_at=_now(),
                ))
            elif row.fail_reason is None:
                values: dict[str, Any] = {"fail_reason": reason, "error": error, "finished_at": _now()}
                if log_path is not None:
                    values["log_path"] = log_path
                conn.execute(
                    t.trials.update()
                    .where(t.trials.c.study_name == study_name, t.trials.c.trial_number == number)
                    .values(**values)
                )

    def trial_numbers(self, study_name: str) -> set[int]:
        """The numbers of the study's trials lrsearch ran (those with a record here)."""
        if not self.has_schema():
            return set()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.trials.c.trial_number).where(t.trials.c.study_name == study_name))
            return {int(r[0]) for r in rows}

    def trial_info(self, study_name: str, number: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(t.trials).where(t.trials.c.study_name == study_name, t.trials.c.trial_number == number)
            ).mappings().first()
        return dict(row) if row else None

    # -- confirmation runs ----------------------------------------------------------------------------------

    def save_confirm(self, study_name: str, number: int, seed: int, *, state: str, metric: str,
                     value: float | None, metrics: dict[str, float] | None, epochs: int | None,
                     duration_s: float, error: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                t.confirm_runs.delete().where(
                    t.confirm_runs.c.study_name == study_name,
                    t.confirm_runs.c.trial_number == number,
                    t.confirm_runs.c.seed == seed,
                )
            )
            conn.execute(
                t.confirm_runs.insert().values(
                    study_name=study_name, trial_number=number, seed=seed, state=state, metric=metric, value=value,
                    metrics=metrics, epochs=epochs, duration_s=duration_s, error=error, created_at=_now(),
                )
            )

