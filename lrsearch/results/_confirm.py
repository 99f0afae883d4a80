"""Confirmation runs: retrain the top configs with fresh seeds and score them on the held-out test split.

The best validation score of many noisy trials is biased upwards (the winner is partly the luckiest seed), so
the search score alone over-promises and can mis-rank configs. Each of the top K COMPLETE trials (by search
score, identical configs counted once) is retrained with the same S fresh seeds — paired, so that configs meet
the same luck — and scored on the test split, which no trial and no pruning decision has seen. The metric is
the objective's ``test_`` counterpart (``val_accuracy`` -> ``test_accuracy``). Every run is stored in
``lrsearch_confirm``; configs are ranked by the mean.
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any, TextIO

import optuna
import pandas as pd
import sqlalchemy as sa
import torch

from lrsearch.errors import LrsearchError
from lrsearch.results._frames import confirm_frame, confirmed_frame
from lrsearch.results._source import recorded_threads, trial_config
from lrsearch.runner import StudyHandle, classify, make_context, train_config
from lrsearch.storage import tables
from lrsearch.text import table_lines
from lrsearch.training import NullRecorder, resolve_device

# Confirmation seeds start here, above the trial seeds (task.seed + trial number).
SEED_OFFSET = 1_000_000


def held_out_metric(objective: str) -> str:
    """The held-out counterpart of the objective: ``val_accuracy`` -> ``test_accuracy``, ``loss`` -> ``test_loss``."""
    return "test_" + (objective[4:] if objective.startswith("val_") else objective)


def confirm_seeds(task_seed: int, used: set[int], count: int) -> list[int]:
    """``count`` deterministic seeds from ``task_seed + 1,000,000`` on, skipping any seed a trial used."""
    seeds: list[int] = []
    candidate = task_seed + SEED_OFFSET
    while len(seeds) < count:
        if candidate not in used:
            seeds.append(candidate)
        candidate += 1
    return seeds


def top_trials(handle: StudyHandle, top: int) -> list[optuna.trial.FrozenTrial]:
    """The ``top`` best COMPLETE trials by search score, skipping trials whose config repeats a better one's."""
    complete = handle.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    maximize = handle.spec.objective.direction == "maximize"
    ranked = sorted(complete, key=lambda t: (-t.value if maximize else t.value, t.number))
    chosen, seen = [], set()
    for trial in ranked:
        key = json.dumps(trial.params, sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        chosen.append(trial)
        if len(chosen) == top:
            break
    return chosen


def _say(progress: TextIO | None, text: str) -> None:
    if progress is not None:
        progress.write(text + "\n")
        progress.flush()


def _run_one(handle: StudyHandle, number: int, seed: int, metric: str, device: str | None) -> dict[str, Any]:
    """Train trial ``number``'s config with ``seed``; evaluate the test split; return what to store."""
    config, info = trial_config(handle, number)
    config.seed = seed
    dev = resolve_device(device or handle.spec.task.device)
    threads = recorded_threads(info.get("device")) or handle.spec.task.threads
    if dev.type == "cpu" and threads and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    recorder = NullRecorder()
    ctx = make_context(handle, config, recorder, device=dev, number=number)
    ctx.evaluate_test = True
    started = time.monotonic()
    try:
        returned = train_config(handle, ctx, evaluate_test=True)
    except LrsearchError:
        raise
    except Exception as exc:  # a diverging seed is a result, not a reason to stop confirming
        reason, message = classify(exc)
        return {"state": "FAIL", "value": None, "metrics": None, "epochs": len(recorder.epochs),
                "duration_s": time.monotonic() - started, "error": f"{reason}: {message}"[-20000:]}
    metrics = dict(recorder.epochs[-1]["metrics"]) if recorder.epochs else {}
    metrics.update({k: float(v) for k, v in (returned or {}).items() if isinstance(v, (int, float))})
    if metric not in metrics:
        got = ", ".join(sorted(metrics)) or "none"
        own = handle.spec.task.train
        hint = (f"; task.train {own!r} must evaluate its held-out test split when ctx.evaluate_test is true and "
                f"report {metric!r} in the last epoch's metrics (or return it)") if own else ""
        raise LrsearchError(f"confirming study {handle.name!r}: the training reported no {metric!r} "
                            f"(metrics: {got}){hint}")
    value = metrics[metric]
    finite = math.isfinite(value)
    return {"state": "COMPLETE" if finite else "FAIL", "value": value if finite else None,
            "metrics": {k: (v if math.isfinite(v) else None) for k, v in metrics.items()},
            "epochs": len(recorder.epochs), "duration_s": time.monotonic() - started,
            "error": None if finite else f"nan: {metric} is {value}"}


def confirm_top(handle: StudyHandle, *, top: int = 3, seeds: int = 3, progress: TextIO | None = sys.stderr,
                device: str | None = None) -> pd.DataFrame:
    """Retrain the ``top`` best configs with ``seeds`` fresh seeds each, store every run, return the ranking.

    Runs already stored as COMPLETE for the same trial and seed are kept, not repeated, so an interrupted
    confirmation continues where it stopped. Returns :func:`lrsearch.results.confirmed_frame` for the study.
    """
    if top < 1 or seeds < 1:
        raise LrsearchError(f"confirm needs top >= 1 and seeds >= 1, got top={top}, seeds={seeds}")
    metric = held_out_metric(handle.spec.objective.metric)
    chosen = top_trials(handle, top)
    if not chosen:
        raise LrsearchError(f"study {handle.name!r} has no COMPLETE trial to confirm yet")
    t = tables.trials
    with handle.store.engine.connect() as conn:
        used = {int(s) for (s,) in conn.execute(sa.select(t.c.seed).where(t.c.study_name == handle.name,
                                                                          t.c.seed.is_not(None)))}
    seed_list = confirm_seeds(handle.spec.task.seed, used, seeds)
    done_runs = confirm_frame(handle.url, handle.name)
    done = {(int(r.number), int(r.seed)) for r in done_runs.itertuples() if r.state == "COMPLETE"}
    total = len(chosen) * len(seed_list)
    _say(progress, f"[{handle.name}] confirming the top {len(chosen)} trial(s) with {len(seed_list)} fresh "
                   f"seed(s) each on the held-out test split ({metric})")
    count = 0
    for trial in chosen:
        for seed in seed_list:
            count += 1
            if (trial.number, seed) in done:
                continue
            result = _run_one(handle, trial.number, seed, metric, device)
            handle.store.save_confirm(handle.name, trial.number, seed, metric=metric, **result)
            shown = f"{metric}={result['value']:.4g}" if result["value"] is not None else result["error"].split(":")[0]
            _say(progress, f"[{handle.name}] confirm {count}/{total}: trial #{trial.number} seed {seed}: {shown}")
    return confirmed_frame(handle.url, handle.name)


def format_ranking(handle: StudyHandle, ranking: pd.DataFrame) -> str:
    """The confirmed ranking beside each trial's search score."""
    from lrsearch.results._compare import fmt_confirmed, fmt_value

    if ranking.empty:
        return f"study {handle.name!r}: no confirmation runs"
    values = {t.number: t.value for t in handle.study.get_trials(deepcopy=False)}
    metric = str(ranking["metric"].iloc[0])
    search = handle.spec.objective.metric
    header = ("rank", "trial", f"search {search}", f"confirmed {metric} (mean ± sd, n)")
    rows = [(str(r.rank), f"#{r.number}", fmt_value(values.get(r.number)), fmt_confirmed(r.mean, r.sd, r.n))
            for r in ranking.itertuples()]
    return "\n".join(table_lines(rows, header=header))
