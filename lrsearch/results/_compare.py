"""Comparing studies: best value, trial counts, cost, how fast each got close to its best, and what won.

Definitions (the README repeats them):

- *Order of the study*: finished trials (COMPLETE, PRUNED, FAIL) sorted by completion time; *epochs consumed*
  after a trial is the sum of ``epochs_run`` over it and every trial that finished before it, whatever its state.
- *Epochs to reach q of the best* (q = 95%, 99%): the epochs consumed when the running best (over COMPLETE
  trials) first came within ``(1 - q) * |best|`` of the study's final best, i.e. reached
  ``best - (1 - q) * |best|`` when maximizing (``q * best`` for a positive best) or
  ``best + (1 - q) * |best|`` when minimizing (``best / q`` to first order; a loss of 0.200 gives 0.210 at 95%).
- *Best within E epochs* (``--budget E``): the best COMPLETE value among the trials finished while at most E
  epochs had been consumed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from lrsearch.errors import LrsearchError
from lrsearch.results._frames import confirmed_frame, trials_frame
from lrsearch.results._source import open_readonly, trial_config
from lrsearch.storage import Store, redact
from lrsearch.text import table_lines

QUANTILES = (0.95, 0.99)


def threshold(best: float, q: float, direction: str) -> float:
    """The value that counts as reaching ``q`` of ``best`` (see the module doc)."""
    slack = (1.0 - q) * abs(best)
    return best - slack if direction == "maximize" else best + slack


def in_study_order(trials: pd.DataFrame) -> pd.DataFrame:
    """Finished trials by completion time, with ``epochs_consumed`` (cumulative) and ``running_best``."""
    done = trials[trials["state"].isin(["COMPLETE", "PRUNED", "FAIL"]) & trials["datetime_complete"].notna()]
    done = done.sort_values(["datetime_complete", "number"], kind="stable").copy()
    done["epochs_consumed"] = done["epochs_run"].cumsum()
    maximize = (trials["direction"].iloc[0] if len(trials) else "maximize") == "maximize"
    values = done["value"].where(done["state"] == "COMPLETE")
    done["running_best"] = values.cummax() if maximize else values.cummin()
    return done


@dataclass
class StudySummary:
    """One study's numbers, as ``lrsearch compare`` shows them."""

    study: str
    storage: str
    metric: str
    direction: str
    complete: int
    pruned: int
    failed: int
    running: int
    best_value: float | None
    best_number: int | None
    epochs_consumed: int
    trial_seconds: float
    elapsed_seconds: float
    epochs_to: dict[float, int | None] = field(default_factory=dict)
    budget: int | None = None
    budget_value: float | None = None
    budget_number: int | None = None
    budget_trials: int = 0
    groups: dict[str, str] = field(default_factory=dict)  # group -> "lr 0.0242, onecycle after 14% warmup"
    confirmed: list[dict[str, Any]] = field(default_factory=list)  # rank order: number, metric, mean, sd, n
    best_origin: str = ""  # "recipe fastai, stage 2": where the best trial came from ("" for a sampled one)

    def as_row(self) -> dict[str, Any]:
        row = {k: v for k, v in self.__dict__.items() if k not in ("epochs_to", "groups", "confirmed")}
        for q in QUANTILES:
            row[f"epochs_to_{round(q * 100)}"] = self.epochs_to.get(q)
        top = self.confirmed[0] if self.confirmed else {}
        row.update(confirmed_number=top.get("number"), confirmed_mean=top.get("mean"),
                   confirmed_sd=top.get("sd"), confirmed_n=top.get("n"))
        row.update({f"{g}.best": text for g, text in self.groups.items()})
        return row


def summarize(trials: pd.DataFrame, budget: int | None = None) -> StudySummary:
    """The summary of one study's trials frame (see :func:`lrsearch.results.trials_frame`)."""
    study = str(trials["study"].iloc[0])
    direction = str(trials["direction"].iloc[0])
    counts = trials["state"].value_counts()
    complete = trials[trials["state"] == "COMPLETE"]
    best_value = best_number = None
    if not complete.empty:
        index = complete["value"].idxmax() if direction == "maximize" else complete["value"].idxmin()
        best_value, best_number = float(complete.loc[index, "value"]), int(complete.loc[index, "number"])
    order = in_study_order(trials)
    origin = []
    if best_number is not None:
        best_row = complete.loc[index]
        if "recipe" in trials.columns and pd.notna(best_row.get("recipe")):
            origin.append(f"recipe {best_row['recipe']}")
        if "stage" in trials.columns and pd.notna(best_row.get("stage")):
            origin.append(f"stage {int(best_row['stage'])}")
    starts = trials["datetime_start"].dropna()
    ends = trials["datetime_complete"].dropna()
    summary = StudySummary(
        study=study, storage="", metric=str(trials["metric"].iloc[0]), direction=direction,
        complete=int(counts.get("COMPLETE", 0)), pruned=int(counts.get("PRUNED", 0)),
        failed=int(counts.get("FAIL", 0)), running=int(counts.get("RUNNING", 0)),
        best_value=best_value, best_number=best_number, epochs_consumed=int(trials["epochs_run"].sum()),
        trial_seconds=float(trials["duration_s"].fillna(0).sum()),
        elapsed_seconds=float((ends.max() - starts.min()).total_seconds()) if len(ends) and len(starts) else 0.0,
        best_origin=", ".join(origin),
    )
    for q in QUANTILES:
        summary.epochs_to[q] = None
        if best_value is not None:
            target = threshold(best_value, q, direction)
            hit = order["running_best"] >= target if direction == "maximize" else order["running_best"] <= target
            if hit.any():
                summary.epochs_to[q] = int(order.loc[hit.idxmax(), "epochs_consumed"])
    if budget is not None:
        summary.budget = budget
        within = order[order["epochs_consumed"] <= budget]
        summary.budget_trials = len(within)
        done = within[within["state"] == "COMPLETE"]
        if not done.empty:
            index = done["value"].idxmax() if direction == "maximize" else done["value"].idxmin()
            summary.budget_value, summary.budget_number = float(done.loc[index, "value"]), int(done.loc[index, "number"])
    return summary


def describe_group(group: Any) -> str:
    """``lr 0.0242, onecycle after 14% warmup`` for a :class:`~lrsearch.space.GroupConfig`."""
    s = group.schedule
    text = f"lr {group.lr:.3g}, {s.shape}"
    if s.warmup:
        text += f" after {s.warmup:.0%} warmup"
    if group.layer_decay is not None:
        text += f", layer decay {group.layer_decay:.3g}"
    return text


def compare_studies(sources: Sequence[tuple[str, str]], budget: int | None = None) -> list[StudySummary]:
    """Summaries of the studies ``[(storage url, study name), ...]``, in the order given."""
    summaries = []
    for url, name in sources:
        trials = trials_frame(url, name)
        # Finished trials lrsearch did not run (plain study.optimize) have no config and other parameters.
        ours = Store(url).trial_numbers(name)
        trials = trials[~(trials["state"].isin(["COMPLETE", "PRUNED"]) & ~trials["number"].isin(ours))]
        if trials.empty:
            raise LrsearchError(f"study {name!r} in {redact(url)} has no trials yet")
        summary = summarize(trials, budget)
        summary.storage = redact(url)
        if summary.best_number is not None:
            handle = open_readonly(url, name)
            config, _ = trial_config(handle, summary.best_number)
            summary.groups = {g.name: describe_group(g) for g in config.groups()}
        confirmed = confirmed_frame(url, name)
        summary.confirmed = confirmed.to_dict("records")
        summaries.append(summary)
    return summaries


def compare_frame(sources: Sequence[tuple[str, str]], budget: int | None = None) -> pd.DataFrame:
    """:func:`compare_studies` as a DataFrame, one row per study."""
    return pd.DataFrame([s.as_row() for s in compare_studies(sources, budget)])


def fmt_value(value: float | None) -> str:
    """How compare and best print objective values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}" if 1e-3 <= abs(value) < 1e4 else f"{value:.4g}"


def fmt_confirmed(mean: float, sd: float, n: int) -> str:
    spread = "" if sd is None or math.isnan(sd) else f" ± {fmt_value(sd)}"
    return f"{fmt_value(mean)}{spread} (n={n})"


def _seconds(s: float) -> str:
    return f"{s:.1f}s" if s < 120 else f"{s / 60:.1f}m" if s < 7200 else f"{s / 3600:.1f}h"


def format_comparison(summaries: Sequence[StudySummary]) -> str:
    """A table with one column per study."""
    rows: list[tuple[str, list[str]]] = []
    add = rows.append
    add(("storage", [s.storage for s in summaries]))
    add(("objective", [f"{s.direction} {s.metric}" for s in summaries]))
    add(("trials", [f"{s.complete} complete, {s.pruned} pruned, {s.failed} failed"
                    + (f", {s.running} running" if s.running else "") for s in summaries]))
    add(("best", [f"{fmt_value(s.best_value)} (#{s.best_number})" if s.best_number is not None else "-"
                  for s in summaries]))
    if any(s.best_origin for s in summaries):
        add(("best came from", [s.best_origin or "the sampler" for s in summaries]))
    if any(s.confirmed for s in summaries):
        add(("confirmed best", [f"{fmt_confirmed(s.confirmed[0]['mean'], s.confirmed[0]['sd'], s.confirmed[0]['n'])}"
                                f" #{s.confirmed[0]['number']} {s.confirmed[0]['metric']}" if s.confirmed else "-"
                                for s in summaries]))
        add(("confirmed #search-best", [_confirmed_of(s) for s in summaries]))
    add(("epochs consumed", [str(s.epochs_consumed) for s in summaries]))
    add(("wall time", [f"{_seconds(s.trial_seconds)} in trials, {_seconds(s.elapsed_seconds)} elapsed"
                       for s in summaries]))
    for q in QUANTILES:
        add((f"epochs to {q:.0%} of best", [str(s.epochs_to.get(q)) if s.epochs_to.get(q) is not None else "-"
                                            for s in summaries]))
    if summaries and summaries[0].budget is not None:
        budget = summaries[0].budget
        add((f"best within {budget} epochs", [
            (f"{fmt_value(s.budget_value)} (#{s.budget_number}, {s.budget_trials} trials)"
             if s.budget_number is not None else f"- ({s.budget_trials} trials)")
            + (f" [used only {s.epochs_consumed}]" if s.epochs_consumed < budget else "")
            for s in summaries]))
    groups = list(dict.fromkeys(g for s in summaries for g in s.groups))
    for g in groups:
        add((f"best: {g}", [s.groups.get(g, "-") for s in summaries]))
    lines = table_lines([(label, *cells) for label, cells in rows], header=("", *(s.study for s in summaries)))
    return "\n".join(lines + _verdicts(summaries))


def _confirmed_of(s: StudySummary) -> str:
    """The confirmed score of the search's own best trial, whose search score is biased upwards."""
    for row in s.confirmed:
        if row["number"] == s.best_number:
            return fmt_confirmed(row["mean"], row["sd"], row["n"])
    return "-"


def _verdicts(summaries: Sequence[StudySummary]) -> list[str]:
    if len(summaries) < 2:
        return []
    objectives = {(s.metric, s.direction) for s in summaries}
    if len(objectives) > 1:
        return ["note: the studies optimise different objectives; their values are not comparable"]
    maximize = summaries[0].direction == "maximize"
    lines = []

    def leader(values: list[tuple[float, str]], what: str) -> None:
        if len(values) < 2:
            return
        ordered = sorted(values, reverse=maximize)
        (top, name), (second, _) = ordered[0], ordered[1]
        if top == second:
            lines.append(f"{what}: tie at {fmt_value(top)}")
        else:
            lines.append(f"{what}: {name} leads by {fmt_value(abs(top - second))}")

    leader([(s.best_value, s.study) for s in summaries if s.best_value is not None], "best search score")
    if summaries[0].budget is not None:
        leader([(s.budget_value, s.study) for s in summaries if s.budget_value is not None],
               f"within {summaries[0].budget} epochs")
    leader([(s.confirmed[0]["mean"], s.study) for s in summaries if s.confirmed], "confirmed (held-out test)")
    return lines
