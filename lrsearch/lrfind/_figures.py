"""Plotly figures of an lr-find result, for the HTML report (``lrsearch report``) and the dashboard."""

from __future__ import annotations

from typing import Any

from lrsearch.lrfind._result import JOINT, LrFindResult
from lrsearch.lrfind._suggest import marker_point

SYMBOLS = {"valley": "circle", "steep": "triangle-up", "minimum": "square"}


def lrfind_figures(result: LrFindResult | None) -> list[tuple[str, Any]]:
    """``[(panel id, plotly Figure)]``, one per tested group (one for a joint test); empty without a result.

    Each shows the smoothed training loss against the lr (log axis) per optimizer, fastai's suggestions as
    markers, and the original and narrowed lr ranges shaded.
    """
    if result is None:
        return []
    import plotly.graph_objects as go

    ranges = {r.group: r for r in result.ranges if r.kind == "lr"}
    figures = []
    for group in dict.fromkeys(c.group for c in result.curves):
        fig = go.Figure()
        for curve in (c for c in result.curves if c.group == group):
            fig.add_trace(go.Scatter(x=curve.lrs, y=curve.smoothed, mode="lines", name=f"{curve.optimizer}",
                                     legendgroup=curve.optimizer))
            for name, s in curve.suggestions.items():
                x, y = marker_point(curve.lrs, curve.smoothed, s)
                fig.add_trace(go.Scatter(
                    x=[x], y=[y], mode="markers", legendgroup=curve.optimizer,
                    name=f"{curve.optimizer} {name}: {s.lr:.2g}", marker={"symbol": SYMBOLS.get(name, "x"), "size": 10}))
        target = ranges.get(group) if group != JOINT else None
        if target is not None and target.old is not None:
            fig.add_vrect(x0=target.old[0], x1=target.old[1], fillcolor="grey", opacity=0.12, line_width=0,
                          annotation_text="original range", annotation_position="top left")
        if target is not None and target.new is not None:
            fig.add_vrect(x0=target.new[0], x1=target.new[1], fillcolor="green", opacity=0.15, line_width=0,
                          annotation_text="narrowed", annotation_position="bottom left")
        what = "every group, ratios fixed" if group == JOINT else f"group {group!r}, others held"
        fig.update_layout(title=f"lr-find ({result.mode}): {what}", xaxis_title="learning rate",
                          yaxis_title="smoothed training loss", template="plotly_white")
        fig.update_xaxes(type="log")
        figures.append((f"lrfind-{'joint' if group == JOINT else group}", fig))
    return figures
