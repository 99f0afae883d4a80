"""The panel builders: a study's trials and curves frames in, one plotly figure out (pure, no storage).

``trials`` is :func:`lrsearch.results.trials_frame` of one study, ``curves`` is its
:func:`lrsearch.results.curves_frame`. Every builder returns a figure, also for a study with no data yet (then
with a message in place of the plot), so a panel never disappears from the dashboard.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lrsearch.dashboard._data import StudyContext, curve_groups, group_lr_columns, label, ranked

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22"]
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
STATE_COLORS = {"COMPLETE": "#2a9d8f", "PRUNED": "#e9c46a", "FAIL": "#e76f51", "RUNNING": "#8d99ae",
                "WAITING": "#adb5bd"}
_SHAPE = re.compile(r"^schedule\.(.+)\.shape$")
MAX_COLUMNS = 3


def _base(title: str, message: str | None = None) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title={"text": title, "x": 0.02, "font": {"size": 15}}, template="none", height=440,
        margin={"l": 64, "r": 16, "t": 56, "b": 48}, font={"size": 11}, hovermode="closest",
        plot_bgcolor="#ffffff", paper_bgcolor="#ffffff", legend={"font": {"size": 10}},
    )
    if message:
        fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                           font={"size": 13, "color": "#666"})
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
    return fig


def _grid(title: str, names: list[str], **kwargs: Any) -> go.Figure:
    cols = min(len(names), MAX_COLUMNS)
    rows = -(-len(names) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names, horizontal_spacing=0.08,
                        vertical_spacing=0.18 if rows > 1 else 0.1, **kwargs)
    base = _base(title)
    fig.update_layout(base.layout)
    fig.update_layout(height=max(440, 300 * rows))
    fig.update_annotations(font={"size": 12})
    return fig


def _cell(index: int) -> dict[str, int]:
    return {"row": index // MAX_COLUMNS + 1, "col": index % MAX_COLUMNS + 1}


def _axes(fig: go.Figure) -> None:
    fig.update_xaxes(showgrid=True, gridcolor="#eee", zeroline=False, linecolor="#999", showline=True)
    fig.update_yaxes(showgrid=True, gridcolor="#eee", zeroline=False, linecolor="#999", showline=True)


def lr_curves(trials: pd.DataFrame, curves: pd.DataFrame, ctx: StudyContext, title: str, top: int = 5) -> go.Figure:
    """The effective lr of every group at the end of each epoch, for the ``top`` best trials (log scale)."""
    best = ranked(trials, ctx.direction)["number"].head(top).tolist()
    # An lr of exactly 0 (cosine's last step, a frozen group) has no place on a log axis: left out.
    curves = curves[curves["trial"].isin(best) & (curves["lr"] > 0)]
    if curves.empty:
        return _base(title, "no learning-rate curves recorded yet")
    fig = _base(title)
    groups = curve_groups(curves)
    labels = [label(o, g) for o, g in zip(curves["optimizer"], curves["group"], strict=True)]
    curves = curves.assign(label=labels)
    for rank, number in enumerate(best):
        color = PALETTE[rank % len(PALETTE)]
        for index, group in enumerate(groups):
            part = curves[(curves["trial"] == number) & (curves["label"] == group)].sort_values("epoch")
            if part.empty:
                continue
            frozen = part["frozen"].fillna(False).astype(bool).tolist()
            fig.add_scatter(
                x=part["epoch"].tolist(), y=part["lr"].tolist(), mode="lines+markers", name=f"#{number} {group}",
                legendgroup=f"#{number}", line={"color": color, "dash": DASHES[index % len(DASHES)], "width": 2},
                marker={"size": 6, "symbol": ["x" if f else "circle" for f in frozen]},
                customdata=[[number, group, "frozen" if f else "training"] for f in frozen],
                hovertemplate="trial #%{customdata[0]} %{customdata[1]}<br>epoch %{x}: lr %{y:.3g} "
                              "(%{customdata[2]})<extra></extra>",
            )
    fig.update_xaxes(title="epoch", dtick=1)
    fig.update_yaxes(title="effective lr (end of epoch)", type="log", exponentformat="power")
    _axes(fig)
    return fig


def _scatter_groups(fig: go.Figure, trials: pd.DataFrame, ctx: StudyContext, x_of: dict[str, str],
                    categorical: bool = False) -> None:
    """Per subplot: COMPLETE trials (filled), PRUNED ones at their last reported value (hollow), the best (star)."""
    best = ranked(trials[trials["state"] == "COMPLETE"], ctx.direction)["number"].head(1).tolist()
    for index, column in enumerate(x_of.values()):
        cell = _cell(index)
        complete = trials[(trials["state"] == "COMPLETE") & trials[column].notna()]
        pruned = trials[(trials["state"] == "PRUNED") & trials[column].notna() & trials["last_value"].notna()]
        hover = "trial #%{customdata}<br>" + ("%{x}" if categorical else "lr %{x:.3g}") + "<br>" + ctx.metric + \
                " %{y:.4g}<extra>%{fullData.name}</extra>"
        if categorical:
            fig.add_box(x=complete[column].tolist(), y=complete["value"].tolist(), name="complete",
                        legendgroup="complete", showlegend=index == 0, boxpoints="all", jitter=0.4, pointpos=0,
                        marker={"color": STATE_COLORS["COMPLETE"], "size": 7}, line={"color": STATE_COLORS["COMPLETE"]},
                        customdata=complete["number"].tolist(), hovertemplate=hover, **cell)
        else:
            fig.add_scatter(x=complete[column].tolist(), y=complete["value"].tolist(), mode="markers",
                            name="complete", legendgroup="complete", showlegend=index == 0,
                            marker={"color": STATE_COLORS["COMPLETE"], "size": 8, "opacity": 0.85},
                            customdata=complete["number"].tolist(), hovertemplate=hover, **cell)
        fig.add_scatter(x=pruned[column].tolist(), y=pruned["last_value"].tolist(), mode="markers",
                        name="pruned (last reported)", legendgroup="pruned", showlegend=index == 0,
                        marker={"color": "rgba(0,0,0,0)", "size": 7, "line": {"color": "#c9a227", "width": 1.5}},
                        customdata=pruned["number"].tolist(), hovertemplate=hover, **cell)
        top = complete[complete["number"].isin(best)]
        fig.add_scatter(x=top[column].tolist(), y=top["value"].tolist(), mode="markers",
                        name=f"best by search (#{best[0]})" if best else "best by search", legendgroup="best", showlegend=index == 0,
                        marker={"color": "#d62728", "size": 15, "symbol": "star", "line": {"color": "#fff", "width": 1}},
                        customdata=top["number"].tolist(), hovertemplate=hover, **cell)
        if not categorical:
            fig.update_xaxes(type="log", exponentformat="power", title="lr", **cell)
    fig.update_yaxes(title=ctx.metric, row=1, col=1)
    fig.update_layout(legend={"orientation": "h", "y": -0.18, "x": 0})
    _axes(fig)


def value_vs_lr(trials: pd.DataFrame, curves: pd.DataFrame, ctx: StudyContext, title: str) -> go.Figure:
    """The objective of each trial against each group's lr (its resolved absolute base lr), one plot a group."""
    columns = group_lr_columns(trials, curves)
    if not columns or trials["state"].isin(["COMPLETE", "PRUNED"]).sum() == 0:
        return _base(title, "no finished trial yet")
    names = [c[:-3] for c in columns]
    fig = _grid(title, names, shared_yaxes=True)
    _scatter_groups(fig, trials, ctx, dict(zip(names, columns, strict=True)))
    return fig


def value_by_shape(trials: pd.DataFrame, curves: pd.DataFrame, ctx: StudyContext, title: str) -> go.Figure:
    """The objective by schedule shape, one box plot per group whose shape is searched."""
    columns = {m.group(1): c for c in trials.columns if (m := _SHAPE.match(c)) and trials[c].notna().any()}
    if not columns:
        return _base(title, "the schedule shape is not searched in this study")
    if trials["state"].isin(["COMPLETE", "PRUNED"]).sum() == 0:
        return _base(title, "no finished trial yet")
    fig = _grid(title, list(columns), shared_yaxes=True)
    _scatter_groups(fig, trials, ctx, columns, categorical=True)
    fig.update_xaxes(type="category", title="schedule shape")
    return fig


def epochs_per_trial(trials: pd.DataFrame, curves: pd.DataFrame, ctx: StudyContext, title: str) -> go.Figure:
    """Epochs each trial trained, coloured by state, against the budget's epochs a trial."""
    if trials.empty:
        return _base(title, "no trials yet")
    fig = _base(title)
    for state, color in STATE_COLORS.items():
        part = trials[trials["state"] == state]
        if part.empty:
            continue
        fig.add_bar(x=part["number"].tolist(), y=part["epochs_run"].tolist(), name="failed" if state == "FAIL" else state.lower(),
                    marker={"color": color}, hovertemplate="trial #%{x}: %{y} epoch(s)<extra>" + state.lower() + "</extra>")
    finished = trials[trials["state"].isin(["COMPLETE", "PRUNED", "FAIL"])]
    trained, full = int(finished["epochs_run"].sum()), len(finished) * ctx.epochs
    saved = f" ({1 - trained / full:.0%} saved by pruning)" if full else ""
    fig.add_hline(y=ctx.epochs, line={"dash": "dash", "color": "#555", "width": 1},
                  annotation_text=f"budget: {ctx.epochs} epochs a trial", annotation_position="top left")
    fig.add_annotation(text=f"{trained} of {full} epochs trained{saved}", showarrow=False, xref="paper",
                       yref="paper", x=1, y=1.06, xanchor="right", font={"size": 11, "color": "#444"})
    fig.update_layout(barmode="overlay", bargap=0.15, legend={"orientation": "h", "y": -0.18, "x": 0})
    fig.update_xaxes(title="trial", type="linear")
    fig.update_yaxes(title="epochs run", range=[0, ctx.epochs * 1.15 + 0.1], dtick=1 if ctx.epochs <= 12 else None)
    _axes(fig)
    return fig
