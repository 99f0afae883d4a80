"""Studies as pandas DataFrames: one row per trial, and the learning curves in long format.

Both read a storage with a few queries whatever the number of trials: Optuna's trials (params, states, values)
in one bulk read per study, lrsearch's tables with one ``IN`` query each for all the studies asked for.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
import pandas as pd
import sqlalchemy as sa

from lrsearch.results._dtypes import CONFIRM_DTYPES, CURVES_DTYPES, TRIALS_DTYPES, canonical
from lrsearch.results._source import study_names
from lrsearch.runner import load_stored_spec
from lrsearch.space import SearchSpace
from lrsearch.storage import Store, optuna_storage, tables

StudyArg = str | Sequence[str] | None


def _load_optuna(storage: str, name: str) -> list[optuna.trial.FrozenTrial]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.load_study(study_name=name, storage=optuna_storage(storage, heartbeat=False),
                                  sampler=optuna.samplers.RandomSampler())
    return study.get_trials(deepcopy=False)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def _lrsearch_trials(storage: str, names: list[str]) -> dict[tuple[str, int], dict[str, Any]]:
    t = tables.trials
    cols = [t.c.study_name, t.c.trial_number, t.c.config, t.c.seed, t.c.worker, t.c.device, t.c.fail_reason,
            t.c.epochs_run]
    with Store(storage).engine.connect() as conn:
        rows = conn.execute(sa.select(*cols).where(t.c.study_name.in_(names))).mappings().all()
    return {(r["study_name"], r["trial_number"]): dict(r) for r in rows}


def confirm_frame(storage: str, study: StudyArg = None) -> pd.DataFrame:
    """Every confirmation run: ``study, number, seed, state, metric, value, epochs, duration_s, error``."""
    names = study_names(storage, study)
    c = tables.confirm_runs
    cols = [c.c.study_name.label("study"), c.c.trial_number.label("number"), c.c.seed, c.c.state, c.c.metric,
            c.c.value, c.c.epochs, c.c.duration_s, c.c.error]
    with Store(storage).engine.connect() as conn:
        if not sa.inspect(conn).has_table(c.name):
            rows = []
        else:
            rows = conn.execute(sa.select(*cols).where(c.c.study_name.in_(names)).order_by(c.c.id)).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows], columns=list(CONFIRM_DTYPES))
    return canonical(frame, CONFIRM_DTYPES)


def confirmed_frame(storage: str, study: StudyArg = None) -> pd.DataFrame:
    """Per confirmed trial: ``study, number, metric, mean, sd, n, rank`` over its COMPLETE confirmation runs.

    ``sd`` is the sample standard deviation (NaN for one run); ``rank`` is 1 for the best mean of its study
    (in the study's direction).
    """
    runs = confirm_frame(storage, study)
    runs = runs[(runs["state"] == "COMPLETE") & runs["value"].notna()]
    columns = ["study", "number", "metric", "mean", "sd", "n", "rank"]
    if runs.empty:
        return canonical(pd.DataFrame(columns=columns), {"study": "str", "number": "int64", "metric": "str",
                                                         "mean": "float64", "sd": "float64", "n": "int64",
                                                         "rank": "int64"})
    grouped = runs.groupby(["study", "number"], sort=False)
    out = grouped.agg(metric=("metric", "first"), mean=("value", "mean"), sd=("value", "std"),
                      n=("value", "size")).reset_index()
    directions = {name: load_stored_spec(storage, name).objective.direction for name in out["study"].unique()}
    parts = []
    for name, part in out.groupby("study", sort=False):
        ascending = directions[name] == "minimize"
        part = part.sort_values(["mean", "number"], ascending=[ascending, True]).copy()
        part["rank"] = np.arange(1, len(part) + 1)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    return canonical(out[columns], {"n": "int64", "rank": "int64", "number": "int64"})


def trials_frame(storage: str, study: StudyArg = None) -> pd.DataFrame:
    """One row per trial of ``study`` (a name, a list of names, or None for every lrsearch study in ``storage``).

    Columns: ``study, number, state, value`` (the objective told to Optuna; NaN unless COMPLETE),
    ``last_value`` (the last reported objective, also for pruned trials), ``metric, direction,
    datetime_start, datetime_complete`` (UTC), ``duration_s, epochs_run, fail_reason, worker, device, seed,
    confirmed_mean, confirmed_sd, confirmed_n, recipe`` (the recipe a queued trial ran, see
    :mod:`lrsearch.search`), ``stage`` (1 or 2 under the staged strategy), then ``<group>.lr`` for every group (its resolved absolute lr,
    also for ``ratio_of`` and fixed lrs), then every searched parameter under its stable name (``opt.name``,
    ``head.lr``, ``backbone.lr_ratio``, ``schedule.head.shape``, ...; NaN where a conditional one is inactive).
    """
    names = study_names(storage, study)
    ours = _lrsearch_trials(storage, names)
    confirmed = confirmed_frame(storage, names).set_index(["study", "number"])
    records: list[dict[str, Any]] = []
    param_order: dict[str, None] = {}
    lr_order: dict[str, None] = {}
    for name in names:
        spec = load_stored_spec(storage, name)
        param_order.update(dict.fromkeys(d.name for d in SearchSpace(spec).dimensions()))
        for trial in _load_optuna(storage, name):
            row = ours.get((name, trial.number), {})
            start, end = _utc(trial.datetime_start), _utc(trial.datetime_complete)
            steps = trial.intermediate_values
            record: dict[str, Any] = {
                "study": name,
                "number": trial.number,
                "state": trial.state.name,
                "value": trial.value if trial.state == optuna.trial.TrialState.COMPLETE else None,
                "last_value": steps[max(steps)] if steps else trial.value,
                "metric": spec.objective.metric,
                "direction": spec.objective.direction,
                "datetime_start": start,
                "datetime_complete": end,
                "duration_s": (end - start).total_seconds() if start and end else None,
                "epochs_run": row.get("epochs_run") or 0,
                "fail_reason": row.get("fail_reason") or trial.user_attrs.get("fail_reason"),
                "worker": row.get("worker"),
                "device": row.get("device"),
                "seed": row.get("seed"),
                "recipe": trial.user_attrs.get("recipe"),
                "stage": trial.user_attrs.get("stage"),
            }
            key = (name, trial.number)
            if key in confirmed.index:
                c = confirmed.loc[key]
                record.update(confirmed_mean=c["mean"], confirmed_sd=c["sd"], confirmed_n=int(c["n"]))
            else:
                record.update(confirmed_mean=None, confirmed_sd=None, confirmed_n=0)
            for opt in (row.get("config") or {}).get("optimizers", []):
                for group in opt["groups"]:
                    column = f"{group['name']}.lr"
                    lr_order[column] = None
                    record[column] = group["lr"]
            for pname, pvalue in trial.params.items():
                param_order.setdefault(pname, None)
                record[pname] = pvalue
            records.append(record)
    # A searched "<group>.lr" is both a parameter and the group's lr; list it once, with the parameters.
    columns = [*TRIALS_DTYPES, *(c for c in lr_order if c not in param_order), *param_order]
    frame = pd.DataFrame.from_records(records, columns=columns)
    return canonical(frame, TRIALS_DTYPES)


def curves_frame(storage: str, study: StudyArg = None) -> pd.DataFrame:
    """The recorded curves in long format: one row per study, trial, epoch and parameter group.

    Columns: ``study, trial, epoch, step`` (optimizer steps so far), ``wall_time`` (seconds since the trial
    started), ``optimizer, group, lr, momentum`` (momentum, or beta1 for Adam-type optimizers), ``weight_decay,
    frozen`` (the effective values after the epoch's last step), then one column per recorded metric
    (``train_loss, val_loss, val_accuracy, ...``). An epoch of an own-loop trial that built no optimizer with
    ``ctx.optimizer`` has one row with empty group columns.
    """
    names = study_names(storage, study)
    e, g = tables.epochs, tables.group_epochs
    with Store(storage).engine.connect() as conn:
        epochs = conn.execute(
            sa.select(e.c.study_name, e.c.trial_number, e.c.epoch, e.c.step, e.c.wall_time, e.c.metrics)
            .where(e.c.study_name.in_(names))
        ).all()
        groups = conn.execute(
            sa.select(g.c.study_name, g.c.trial_number, g.c.epoch, g.c.optimizer, g.c.group_name, g.c.lr,
                      g.c.momentum, g.c.weight_decay, g.c.frozen, g.c.id)
            .where(g.c.study_name.in_(names))
        ).all()
    keys = ["study", "trial", "epoch"]
    base = pd.DataFrame([r[:5] for r in epochs], columns=[*keys, "step", "wall_time"])
    metrics = pd.DataFrame.from_records([r[5] or {} for r in epochs], index=base.index)
    metrics = metrics.astype("float64")
    per_group = pd.DataFrame(groups, columns=[*keys, "optimizer", "group", "lr", "momentum", "weight_decay",
                                              "frozen", "id"])
    frame = pd.concat([base, metrics], axis=1).merge(per_group, on=keys, how="left")
    order = {name: i for i, name in enumerate(names)}
    frame["_study"] = frame["study"].map(order)
    frame = frame.sort_values(["_study", "trial", "epoch", "id"], kind="stable").drop(columns=["_study", "id"])
    frame = frame[[*CURVES_DTYPES, *metrics.columns]].reset_index(drop=True)
    return canonical(frame, CURVES_DTYPES)
