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
    return frozen.number


def retry(url: str, study_name: str, frozen: optuna.trial.FrozenTrial) -> bool:
    """Queue ``frozen``'s config to run again, unless it has been retried ``MAX_RETRIES`` times already."""
    retries = int(frozen.user_attrs.get("retries", 0))
    if retries >= MAX_RETRIES or not frozen.params:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.load_study(study_name=study_name, storage=optuna_storage(url))
        from lrsearch.runner._trial import carried_attrs

        study.enqueue_trial(frozen.params, user_attrs={"retry_of": frozen.number, "retries": retries + 1,
                                                       **carried_attrs(frozen)})
    return True
