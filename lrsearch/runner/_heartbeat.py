"""The heartbeat of a running trial (finding trials whose heartbeat stopped is ``optuna_adapter.stale_trial_ids``).

Optuna's heartbeat thread writes at once when a trial starts, then every interval. lrsearch's beats every interval
from a thread that lives as long as the process: a trial shorter than the interval mostly costs no heartbeat
write (saving a commit per trial, an fsync on PostgreSQL) and no thread start. A trial whose worker dies before its first beat has no heartbeat at all, so the stale check
also takes RUNNING trials without a heartbeat that started longer than the grace period ago.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

import optuna

from lrsearch.storage.optuna_adapter import BaseHeartbeat, heartbeat_backend, heartbeat_enabled


class Heartbeat:
    """``with Heartbeat(trial_id, storage):`` the trial beats every interval while the block runs.

    One long-lived thread per process and storage beats for the trials registered with it: starting a thread per
    trial costs milliseconds on a busy machine (waiting for it to be scheduled), which a 30 ms trial notices.
    """

    _beaters: dict[int, _Beater] = {}
    _lock = threading.Lock()

    def __init__(self, trial_id: int, storage: optuna.storages.BaseStorage) -> None:
        # The RDB storage under Optuna's per-study cache: one thread per database, not per study object.
        self.trial_id, self.storage = trial_id, heartbeat_backend(storage)
        self.beater: _Beater | None = None

    def __enter__(self) -> Heartbeat:
        if heartbeat_enabled(self.storage):
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
