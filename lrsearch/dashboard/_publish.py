"""Publishing lrsearch's panels into a study, where optuna-dashboard shows them on the study's page.

Each panel is a plotly figure saved with ``optuna_dashboard.save_plotly_graph_object`` under its panel id (so a
refresh replaces it), and the best configuration is the lrsearch part of the study note (``save_note``; the
user's own note text outside lrsearch's markers is kept). Both live in the study's system attributes, in the
study's own database: nothing else to deploy.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import pandas as pd

from lrsearch.dashboard._data import StudyContext
from lrsearch.dashboard._panels import PanelDef, load_panels, panel_kinds
from lrsearch.dashboard._summary import Summary, merge_note, summarize
from lrsearch.errors import LrsearchError


@dataclass
class StudyData:
    ctx: StudyContext
    trials: pd.DataFrame
    curves: pd.DataFrame
    summary: Summary


def collect(url: str, study: str) -> StudyData:
    """Everything the panels draw, read through :mod:`lrsearch.results` (a few queries per study)."""
    from lrsearch.results import best_trial, curves_frame, trials_frame
    from lrsearch.runner import load_stored_spec

    spec = load_stored_spec(url, study)
    ctx = StudyContext(study, spec.objective.metric, spec.objective.direction, spec.budget.epochs)
    trials = trials_frame(url, study)
    curves = curves_frame(url, study)
    best = None
    if (trials["state"] == "COMPLETE").any():
        try:
            best = best_trial(url, study)
        except LrsearchError:
            best = None
    return StudyData(ctx, trials, curves, summarize(ctx, trials, best))


def build_figures(data: StudyData, panels: Sequence[PanelDef]) -> list[tuple[PanelDef, Any]]:
    kinds = panel_kinds()
    out = []
    for panel in panels:
        title = panel.render_title(metric=data.ctx.metric, direction=data.ctx.direction, study=data.ctx.study)
        figure = kinds[panel.kind].build(data.trials, data.curves, data.ctx, title, **panel.options)
        out.append((panel, figure))
    return out


def publish(url: str, study: str, panels: Sequence[PanelDef] | None = None) -> list[str]:
    """Build the panels and the note of ``study`` and save them into it. Returns the panel ids written."""
    import optuna
    from optuna_dashboard import get_note, save_note, save_plotly_graph_object

    from lrsearch.storage import optuna_storage

    panels = list(panels) if panels is not None else load_panels()
    data = collect(url, study)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        target = optuna.load_study(study_name=study, storage=optuna_storage(url, heartbeat=False),
                                   sampler=optuna.samplers.RandomSampler())
    written = []
    for panel, figure in build_figures(data, panels):
        save_plotly_graph_object(target, figure, graph_object_id=panel.id)
        written.append(panel.id)
    note = merge_note(get_note(target), data.summary.markdown())
    save_note(target, note)
    return written


def publish_studies(url: str, studies: Sequence[str] | None = None, panels: Sequence[PanelDef] | None = None,
                    out: TextIO | None = None) -> dict[str, list[str]]:
    """Publish into each of ``studies`` (default: every lrsearch study in the storage)."""
    names = study_names(url, studies)
    panels = list(panels) if panels is not None else load_panels()
    done = {}
    for name in names:
        done[name] = publish(url, name, panels)
        if out is not None:
            print(f"published {len(done[name])} panels and the best-configuration note into study {name!r}",
                  file=out)
    return done


def study_names(url: str, studies: Sequence[str] | None = None) -> list[str]:
    """The lrsearch studies in ``url`` (all of them, or the ones named, which must exist)."""
    from lrsearch.storage import Store, check_storage, redact

    check_storage(url, create=False)
    known = Store(url).study_names()
    if not studies:
        if not known:
            raise LrsearchError(f"no lrsearch studies are stored in {redact(url)}; run one first (lrsearch run study.yaml)")
        return known
    missing = [s for s in studies if s not in known]
    if missing:
        raise LrsearchError(f"no lrsearch study {missing[0]!r} in {redact(url)}; studies there: "
                            f"{', '.join(known) or 'none'}")
    return list(studies)


def publish_after_run(handle: Any) -> bool:
    """The end-of-run refresh, from :func:`lrsearch.api.run_study`. Fails soft: a run that finished stays a
    success whatever happens here; the reason is given as a warning."""
    try:
        import optuna_dashboard  # noqa: F401
        import plotly  # noqa: F401
    except ImportError as exc:
        warnings.warn(f"lrsearch panels not published: {exc.name} is not installed "
                      "(pip install 'lrsearch[dashboard]')", RuntimeWarning, stacklevel=2)
        return False
    try:
        publish(handle.url, handle.name)
    except Exception as exc:  # noqa: BLE001 - never fail a finished run over its panels
        warnings.warn(f"lrsearch panels not published into study {handle.name!r}: {type(exc).__name__}: {exc}",
                      RuntimeWarning, stacklevel=2)
        return False
    return True

