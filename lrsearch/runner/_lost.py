"""Trials whose worker is gone: fail them with a reason, and queue their config to run again (a few times).

Two ways a trial gets here: the supervisor saw its worker process die or killed it for running past
``budget.trial_timeout``; or the trial stopped sending heartbeats (a remote worker or a whole machine died), noticed
by any worker of the study or by ``lrsearch run`` when it resumes.
"""

from __future__ import annotations

import warnings

import optuna
from optuna.trial import TrialState

from lrsearch.storage import MAX_RETRIES, Store, optuna_storage

# Reasons whose config was not judged, so it runs again; a timeout or an out-of-memory config would fail again.
RETRIED = ("killed",)
# Cut short by the operator (Ctrl-C, SIGTERM) or by a database outage, not by the config: queued again first, and
# not counted as one of its retries.
REQUEUED = ("interrupted", "database", "disk_full")


def fail_lost_trial(url: str, study_name: str, trial_id: int, *, reason: str, message: str,
                    log_path: str | None = None, worker: str | None = None) -> int | None:
    """Fail the RUNNING trial ``trial_id`` for ``reason``. Returns its number, or None when it had already ended
    (its worker finished it just before dying, or another process failed it first)."""
    storage = optuna_storage(url)
    frozen = storage.get_trial(trial_id)
    if frozen.state != TrialState.RUNNING:
        return None
    try:
        storage.set_trial_user_attr(trial_id, "fail_reason", reason)
        storage.set_trial_state_values(trial_id, TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return None
    Store(url).fail_trial(study_name, frozen.number, reason=reason, error=message[-20000:], log_path=log_path,
                          worker=worker)
    if reason in RETRIED:
        retry(url, study_name, frozen)
    elif reason in REQUEUED and frozen.params:
        from lrsearch.runner._trial import carried_attrs

        _enqueue(url, study_name, frozen.params, {"retry_of": frozen.number,
                                                  "retries": int(frozen.user_attrs.get("retries", 0)),
                                                  **carried_attrs(frozen)})
    return frozen.number


def settle_cut_short(url: str, study_name: str, trial_id: int, *, reason: str, message: str,
                     log_path: str | None = None, limit: float | None = None) -> tuple[int | None, str | None]:
    """Fail a trial this process was running when it was stopped (``interrupted``) or lost its database
    (``database``), and queue its config again, unless it was already failed. Held against a second Ctrl-C.

    Returns ``(number, None)``, or ``(None, why)`` when the database could not be written within ``limit``
    seconds: the trial then stays RUNNING until its silent heartbeat gets it failed and queued by the next run.
    """
    from lrsearch.interrupt import interrupts_held
    from lrsearch.storage import DatabaseUnavailable, retrying

    with interrupts_held():
        try:
            number = retrying(lambda: fail_lost_trial(url, study_name, trial_id, reason=reason, message=message,
                                                      log_path=log_path),
                              what="failing the trial that was cut short", url=url, limit=limit)
        except DatabaseUnavailable as exc:
            return None, str(exc)
    return number, None


def _enqueue(url: str, study_name: str, params: dict, user_attrs: dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.load_study(study_name=study_name, storage=optuna_storage(url))
        study.enqueue_trial(params, user_attrs=user_attrs)


def retry(url: str, study_name: str, frozen: optuna.trial.FrozenTrial) -> bool:
    """Queue ``frozen``'s config to run again, unless it has been retried ``MAX_RETRIES`` times already."""
    retries = int(frozen.user_attrs.get("retries", 0))
    if retries >= MAX_RETRIES or not frozen.params:
        return False
    from lrsearch.runner._trial import carried_attrs

    _enqueue(url, study_name, frozen.params, {"retry_of": frozen.number, "retries": retries + 1, **carried_attrs(frozen)})
    return True
