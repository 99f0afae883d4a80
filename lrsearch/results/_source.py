"""Opening stored studies read-only, and picking trials out of them with errors that say what would be valid."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

import optuna

from lrsearch.errors import LrsearchError, StorageError
from lrsearch.runner import StudyHandle, load_stored_spec
from lrsearch.space import SearchSpace, TrialConfig
from lrsearch.storage import Store, check_storage, optuna_storage, redact

_THREADS = re.compile(r"^cpu/(\d+)t$")


def study_names(storage: str, study: str | Sequence[str] | None) -> list[str]:
    """The lrsearch studies ``study`` names in ``storage`` (all of them for None), checked to exist."""
    check_storage(storage, create=False)
    known = Store(storage).study_names()
    if study is None:
        if not known:
            raise StorageError(f"no lrsearch studies are stored in {redact(storage)}")
        return known
    names = [study] if isinstance(study, str) else list(study)
    for name in names:
        if name not in known:
            hint = f"studies there: {', '.join(known)}" if known else "no lrsearch studies are stored there"
            raise StorageError(f"no lrsearch study {name!r} in {redact(storage)}; {hint}")
    return names


def open_readonly(storage: str, study: str) -> StudyHandle:
    """A handle on a stored study that writes nothing: its stored spec, Optuna study and lrsearch's tables."""
    study_names(storage, study)
    spec = load_stored_spec(storage, study)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna_study = optuna.load_study(study_name=study, storage=optuna_storage(storage, heartbeat=False),
                                         sampler=optuna.samplers.RandomSampler())
    return StudyHandle(spec=spec, study=optuna_study, store=Store(storage), space=SearchSpace(spec), url=storage)


def _numbers(trials: Sequence[optuna.trial.FrozenTrial]) -> str:
    numbers = sorted(t.number for t in trials)
    if not numbers:
        return "none"
    if numbers == list(range(numbers[0], numbers[-1] + 1)) and len(numbers) > 3:
        return f"#{numbers[0]}..#{numbers[-1]}"
    shown = ", ".join(f"#{n}" for n in numbers[:20])
    return shown + (f" (and {len(numbers) - 20} more)" if len(numbers) > 20 else "")


def finished_trial(handle: StudyHandle, number: int, *, states: Sequence[str] = ("COMPLETE",),
                   purpose: str = "this") -> optuna.trial.FrozenTrial:
    """Trial ``number`` of the study, which must be in one of ``states``; else an error listing valid numbers."""
    trials = handle.study.get_trials(deepcopy=False)
    by_number = {t.number: t for t in trials}
    wanted = [t for t in trials if t.state.name in states]
    allowed = " or ".join(states)
    if number not in by_number:
        raise LrsearchError(f"study {handle.name!r} has no trial #{number}; its trials are {_numbers(trials)}; "
                            f"{allowed} trials: {_numbers(wanted)}")
    trial = by_number[number]
    if trial.state.name not in states:
        reason = ""
        info = handle.store.trial_info(handle.name, number)
        if info and info.get("fail_reason"):
            reason = f" (reason: {info['fail_reason']})"
        raise LrsearchError(f"trial #{number} of study {handle.name!r} is {trial.state.name}{reason}; {purpose} "
                            f"needs a {allowed} trial: {_numbers(wanted)}")
    return trial


def trial_config(handle: StudyHandle, number: int) -> tuple[TrialConfig, dict[str, Any]]:
    """The config a trial trained with (as stored when it started) and its lrsearch trial row."""
    info = handle.store.trial_info(handle.name, number)
    if info is None or not info.get("config"):
        finished = {t.number for t in handle.study.get_trials(deepcopy=False) if t.state.is_finished()}
        if number in finished:
            raise LrsearchError(f"trial #{number} of study {handle.name!r} was not run by lrsearch (it was added "
                                "with plain Optuna, so there is no config of it to show); choose another trial")
        raise LrsearchError(f"trial #{number} of study {handle.name!r} has no stored config (it never started)")
    return TrialConfig.from_dict(info["config"]), info


def recorded_threads(device: str | None) -> int | None:
    """The CPU thread count a trial ran with, from its recorded device (``cpu/2t`` -> 2); None for a GPU."""
    match = _THREADS.match(device or "")
    return int(match.group(1)) if match else None
