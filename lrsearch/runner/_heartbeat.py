"""The heartbeat of a running trial, and finding trials whose heartbeat stopped.

Optuna's heartbeat thread writes at once when a trial starts, then every interval. lrsearch's beats every interval
from a thread that lives as long as the process: a trial shorter than the interval mostly costs no heartbeat
write (saving a commit per trial, an fsync on PostgreSQL) and no thread start. A trial whose worker dies before its first beat has no heartbeat at all, so the stale check below
also takes RUNNING trials without a heartbeat that started longer than the grace period ago.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from types import TracebackType

import optuna
import sqlalchemy as sa
from optuna.storages._heartbeat import BaseHeartbeat, is_heartbeat_enabled


class Heartbeat:
    """``with Heartbeat(trial_id, storage):`` the trial beats every interval while the block runs.

    One long-lived thread per process and storage beats for the trials registered with it: starting a thread per
    trial costs milliseconds on a busy machine (waiting for it to be scheduled), which a 30 ms trial notices.
    """

    _beaters: dict[int, _Beater] = {}
    _lock = threading.Lock()

    def __init__(self, trial_id: int, storage: optuna.storages.BaseStorage) -> None:
        # The RDB storage under Optuna's per-study cache: one thread per database, not per study object.
        self.trial_id, self.storage = trial_id, getattr(storage, "_backend", storage)
        self.beater: _Beater | None = None

    def __enter__(self) -> Heartbeat:
        if is_heartbeat_enabled(self.storage):
            with Heartbeat._lock:
                beater = Heartbeat._beaters.get(id(self.storage))
                if beater is None or not beater.is_alive():
                    beater = Heartbeat._beaters[id(self.storage)] = _Beater(self.storage)
                    beater.start()
            self.beater = beater
            beater.add(self.trial_id)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.beater is not None:
            self.beater.remove(self.trial_id)


class _Beater(threading.Thread):
    def __init__(self, storage: optuna.storages.BaseStorage) -> None:
        super().__init__(name="lrsearch-heartbeat", daemon=True)
        assert isinstance(storage, BaseHeartbeat)
        self.storage = storage
        self.interval = storage.get_heartbeat_interval() or 60
        self.trials: set[int] = set()
        self.guard = threading.Lock()

    def add(self, trial_id: int) -> None:
        with self.guard:
            self.trials.add(trial_id)

    def remove(self, trial_id: int) -> None:
        with self.guard:
            self.trials.discard(trial_id)

    def run(self) -> None:
        while True:
            time.sleep(self.interval)
            with self.guard:
                beating = list(self.trials)
            for trial_id in beating:
                try:
                    self.storage.record_heartbeat(trial_id)  # type: ignore[attr-defined]
                except Exception:  # noqa: BLE001 - a database hiccup: the next beat tries again
                    continue


def stale_trial_ids(study: optuna.Study) -> list[int]:
    """RUNNING trials of ``study`` whose heartbeat is older than the grace period, or that have none and started
    longer than the grace period ago."""
    storage = study._storage
    if not is_heartbeat_enabled(storage):
        return []
    assert isinstance(storage, BaseHeartbeat)
    stale = set(storage._get_stale_trial_ids(study._study_id))
    backend = getattr(storage, "_backend", storage)
    grace = getattr(backend, "grace_period", None) or 2 * (storage.get_heartbeat_interval() or 0)
    # Optuna stores datetime_start as naive UTC.
    cutoff = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(seconds=grace)
    query = sa.text(
        "SELECT t.trial_id FROM trials t LEFT JOIN trial_heartbeats h ON h.trial_id = t.trial_id "
        "WHERE t.study_id = :sid AND t.state = 'RUNNING' AND h.trial_id IS NULL AND t.datetime_start < :cutoff"
    )
    with backend.engine.connect() as conn:
        stale.update(r[0] for r in conn.execute(query, {"sid": study._study_id, "cutoff": cutoff}))
    return sorted(stale)
