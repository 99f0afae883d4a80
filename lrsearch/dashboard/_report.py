"""``lrsearch report``: one self-contained HTML file with the lrsearch panels, Optuna's plots and the trials table.

plotly.js is embedded once (no CDN), figures are inlined as JSON: the file opens offline, from e-mail or a
ticket, and loads nothing from the network.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from string import Template

import pandas as pd

from lrsearch.dashboard._data import group_lr_columns, ranked
from lrsearch.dashboard._panels import PanelDef, load_panels
from lrsearch.dashboard._publish import StudyData, build_figures, collect
from lrsearch.errors import LrsearchError
from lrsearch.files import write_text
from lrsearch.storage import redact
from lrsearch.version import __version__

TEMPLATE = Path(__file__).with_name("templates") / "report.html"
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["sendDataToCloud"]}
_FIXED = ["number", "state", "value", "last_value", "epochs_run", "duration_s", "fail_reason"]
_SEARCH = ["recipe", "stage"]
_CONFIRMED = ["confirmed_mean", "confirmed_sd", "confirmed_n"]
_SKIP = {"study", "metric", "direction", "datetime_start", "datetime_complete", "worker", "device", "seed"}


def trials_table(data: StudyData) -> str:
    """The trials as an HTML table, best first: outcome columns, each group's lr, then every parameter."""
    trials = data.trials
    if trials.empty:
        return "<p>No trials yet.</p>"
    best_first = ranked(trials, data.ctx.direction)["number"].tolist()
    order = {n: i for i, n in enumerate(best_first)}
    trials = trials.assign(_order=[order.get(n, len(order) + n) for n in trials["number"]]).sort_values("_order")
    hidden = set(_SKIP)
    columns = [c for c in _FIXED if c != "fail_reason" or trials[c].notna().any()]
    hidden.add("fail_reason")
    # the recipe a queued trial ran and the stage of a staged search, when the study has them
    columns += [c for c in _SEARCH if c in trials.columns and trials[c].notna().any()]
    hidden.update(_SEARCH)
    if (trials["confirmed_n"] > 0).any():
        columns += _CONFIRMED
    hidden.update(_CONFIRMED)
    columns += [c for c in group_lr_columns(trials, data.curves) if c not in columns]
    columns += [c for c in trials.columns if c not in columns and c not in hidden and c != "_order"]
    head = "".join(f"<th>{html.escape(_header(c, data.ctx.metric))}</th>" for c in columns)
    rows = []
    for record in trials[columns].to_dict("records"):
        cells = []
        for column in columns:
            value = record[column]
            css = f' class="state-{html.escape(str(value))}"' if column == "state" else ""
            cells.append(f"<td{css}>{html.escape(_cell(value, column))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="trials"><thead><tr>{head}</tr></thead><tbody>\n' + "\n".join(rows)
            + "\n</tbody></table>")


def _header(column: str, metric: str) -> str:
    return {"number": "trial", "value": metric, "last_value": "last reported", "epochs_run": "epochs",
            "duration_s": "seconds", "fail_reason": "fail reason"}.get(column, column)


def _cell(value: object, column: str) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if column == "number":
        return f"#{value}"
    if isinstance(value, float):
        return f"{value:.1f}" if column == "duration_s" else f"{value:.4g}"
    return str(value)


def render_report(data: StudyData, panels: Sequence[PanelDef], storage: str) -> str:
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    blocks = []
    for panel, figure in build_figures(data, panels):
        div = pio.to_html(figure, full_html=False, include_plotlyjs=False, div_id=panel.id, config=PLOT_CONFIG,
                          default_height="440px")
        blocks.append(f'    <div class="panel" data-panel="{html.escape(panel.id)}">{div}</div>')
    from lrsearch.lrfind import load_results, lrfind_figures  # lr-find plots, when lr-find ran for this study

    for panel_id, figure in lrfind_figures(load_results(data.ctx.study, storage)):
        div = pio.to_html(figure, full_html=False, include_plotlyjs=False, div_id=panel_id, config=PLOT_CONFIG,
                          default_height="440px")
        blocks.append(f'    <div class="panel" data-panel="{html.escape(panel_id)}">{div}</div>')
    from lrsearch.dashboard._optuna_plots import optuna_figures

    optuna_blocks = []
    figures, notes = optuna_figures(storage, data.ctx.study)
    for panel_id, figure in figures:
        div = pio.to_html(figure, full_html=False, include_plotlyjs=False, div_id=panel_id, config=PLOT_CONFIG,
                          default_height="440px")
        optuna_blocks.append(f'    <div class="panel" data-panel="{html.escape(panel_id)}">{div}</div>')
    shown = "history, importances, parallel coordinates and slices from <code>optuna.visualization</code>"
    optuna_notes = f"    <p>{shown}.</p>" + "".join(f"\n    <p class=\"note\">Not shown: {html.escape(n)}</p>"
                                                     for n in notes)
    ctx = data.ctx
    template = Template(TEMPLATE.read_text())
    return template.substitute(
        title=html.escape(f"lrsearch report: {ctx.study}"),
        subtitle=html.escape(f"{ctx.direction} {ctx.metric}, {ctx.epochs} epochs a trial; storage {redact(storage)}; "
                             f"generated {data.summary.generated_at:%Y-%m-%d %H:%M} UTC"),
        generator=html.escape(f"lrsearch {__version__}"),
        plotlyjs=get_plotlyjs().replace("</script>", "<\\/script>"),
        summary=data.summary.html(),
        panels="\n".join(blocks),
        optuna_notes=optuna_notes,
        optuna_panels="\n".join(optuna_blocks),
        n_trials=str(len(data.trials)),
        table=trials_table(data),
    )


def write_report(url: str, study: str, output: str | Path, panels_file: str | Path | None = None) -> Path:
    """Write the report of ``study`` in ``url`` to ``output`` (an .html file)."""
    output = Path(output)
    if output.suffix.lower() not in (".html", ".htm"):
        raise LrsearchError(f"-o {str(output)!r}: the report is an HTML file; name it with .html")
    if not output.parent.exists():
        raise LrsearchError(f"-o {str(output)!r}: the directory {str(output.parent)!r} does not exist")
    panels = load_panels(panels_file)
    text = render_report(collect(url, study), panels, url)
    write_text(output, text)
    return output
