"""The best configuration of a study, as the dashboard's study note (Markdown) and the report's header (HTML)."""

from __future__ import annotations

import datetime as dt
import html
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from lrsearch.dashboard._data import StudyContext
from lrsearch.version import __version__

# Markdown link definitions that nothing uses render as nothing (HTML comments would show in the dashboard).
NOTE_BEGIN = "[//]: # (lrsearch:begin - lrsearch rewrites what follows; keep your own notes outside it)"
NOTE_END = "[//]: # (lrsearch:end)"
STATE_WORDS = {"FAIL": "failed"}


@dataclass
class Summary:
    ctx: StudyContext
    counts: dict[str, int]
    epochs_trained: int
    epochs_full: int
    best_number: int | None = None
    best_value: float | None = None
    chosen_by: str | None = None  # "search" or "confirmed"
    config_lines: list[str] = field(default_factory=list)
    confirmed: list[dict[str, Any]] = field(default_factory=list)  # rank, number, search value, mean, sd, n
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))

    @property
    def headline(self) -> str:
        if self.best_number is None:
            return "No trial has completed yet."
        head = f"Best trial #{self.best_number}"
        if self.chosen_by == "confirmed":
            top = next((r for r in self.confirmed if r["number"] == self.best_number), None)
            confirmed = f"{_num(top['mean'])} ± {_num(top['sd'])} over {top['n']} seeds" if top else "-"
            return (f"{head} (by the best confirmed mean on the held-out split): {self.ctx.metric} = {confirmed} "
                    f"confirmed, {self.best_value:.4f} in the search ({self.ctx.direction})")
        return f"{head} (by search score): {self.ctx.metric} = {self.best_value:.4f} ({self.ctx.direction})"

    @property
    def counts_line(self) -> str:
        total = sum(self.counts.values())
        parts = ", ".join(f"{n} {STATE_WORDS.get(s, s.lower())}" for s, n in self.counts.items() if n)
        saved = f" ({1 - self.epochs_trained / self.epochs_full:.0%} saved by pruning)" if self.epochs_full else ""
        return f"{total} trials: {parts or 'none'}; {self.epochs_trained} of {self.epochs_full} epochs trained{saved}"

    @property
    def stamp(self) -> str:
        return f"lrsearch {__version__}, {self.generated_at:%Y-%m-%d %H:%M} UTC"

    def markdown(self) -> str:
        lines = [f"### lrsearch: best configuration of {self.ctx.study}", "", f"**{self.headline}**", "",
                 self.counts_line + "."]
        if self.config_lines:
            lines += ["", "```text", *self.config_lines, "```"]
        if self.confirmed:
            lines += ["", f"Confirmed on the held-out split ({self.ctx.metric}, mean ± sd over n seeds):", "",
                      "| rank | trial | search score | confirmed mean | sd | n |", "|---|---|---|---|---|---|"]
            lines += [f"| {r['rank']} | #{r['number']} | {_num(r['search'])} | {_num(r['mean'])} | {_num(r['sd'])} "
                      f"| {r['n']} |" for r in self.confirmed]
        lines += ["", f"_Published by {self.stamp}; refreshed at the end of every `lrsearch run` and by "
                      "`lrsearch dashboard`. The lrsearch panels are in the study's page below the history._"]
        return "\n".join(lines)

    def html(self) -> str:
        e = html.escape
        parts = [f'<p class="headline">{e(self.headline)}</p>', f"<p>{e(self.counts_line)}.</p>"]
        if self.config_lines:
            parts.append(f'<pre class="config">{e(chr(10).join(self.config_lines))}</pre>')
        if self.confirmed:
            rows = "".join(f"<tr><td>{r['rank']}</td><td>#{r['number']}</td><td>{_num(r['search'])}</td>"
                           f"<td>{_num(r['mean'])}</td><td>{_num(r['sd'])}</td><td>{r['n']}</td></tr>"
                           for r in self.confirmed)
            parts.append(f"<h3>Confirmed on the held-out split ({e(self.ctx.metric)})</h3>"
                         "<table class=\"confirmed\"><thead><tr><th>rank</th><th>trial</th><th>search score</th>"
                         f"<th>confirmed mean</th><th>sd</th><th>n</th></tr></thead><tbody>{rows}</tbody></table>")
        return "\n".join(parts)


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}"


def summarize(ctx: StudyContext, trials: pd.DataFrame, best: Any | None) -> Summary:
    """``best`` is a :class:`lrsearch.results.BestTrial` (None when no trial completed)."""
    from lrsearch.runner import describe_config

    counts = {s: int((trials["state"] == s).sum()) for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")}
    finished = trials[trials["state"].isin(["COMPLETE", "PRUNED", "FAIL"])]
    summary = Summary(ctx, counts, int(finished["epochs_run"].sum()), len(finished) * ctx.epochs)
    if best is None:
        return summary
    summary.best_number, summary.best_value = best.number, best.value
    summary.chosen_by = "confirmed" if best.chosen_by == "confirmed" else "search"
    summary.config_lines = describe_config(best.config)
    values = dict(zip(trials["number"], trials["value"], strict=True))
    ranking = best.confirmed if best.confirmed is not None else pd.DataFrame()
    for row in ranking.itertuples(index=False):
        summary.confirmed.append({"rank": int(row.rank), "number": int(row.number), "search": values.get(row.number),
                                  "mean": float(row.mean), "sd": float(row.sd), "n": int(row.n)})
    return summary


def merge_note(existing: str, ours: str) -> str:
    """The study note with lrsearch's part replaced (or appended), the user's own text kept."""
    block = f"{NOTE_BEGIN}\n\n{ours}\n\n{NOTE_END}"
    start, end = existing.find(NOTE_BEGIN), existing.find(NOTE_END)
    if start != -1 and end > start:
        return existing[:start] + block + existing[end + len(NOTE_END):]
    return block if not existing.strip() else f"{block}\n\n{existing}"
