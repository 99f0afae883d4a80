"""Optuna's standard plots of a study (``optuna.visualization``), for the HTML report.

History, parameter importances (fANOVA, seeded, so a report is reproducible), parallel coordinates and slices:
the plots an Optuna user knows, beside lrsearch's own per-group panels. A plot that the study cannot have yet
(importances need two finished trials with the same parameters) is left out with the reason.
"""

from __future__ import annotations

from typing import Any

import optuna

# (panel id, what it shows, the optuna.visualization function)
PLOTS = [
    ("optuna-history", "optimization history", "plot_optimization_history"),
    ("optuna-importances", "hyperparameter importances", "plot_param_importances"),
    ("optuna-parallel", "parallel coordinates", "plot_parallel_coordinate"),
    ("optuna-slice", "slice plot", "plot_slice"),
]


def optuna_figures(url: str, study_name: str) -> tuple[list[tuple[str, Any]], list[str]]:
    """``([(panel id, plotly figure)], [notes on the plots left out])``."""
    from optuna import visualization

    study = optuna.load_study(study_name=study_name, storage=url)
    figures, notes = [], []
    finished = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    for panel_id, what, name in PLOTS:
        kwargs: dict[str, Any] = {}
        if name == "plot_param_importances":
            kwargs["evaluator"] = optuna.importance.FanovaImportanceEvaluator(seed=0)
        if not finished:
            notes.append(f"{what}: no complete trial yet")
            continue
        try:
            figure = getattr(visualization, name)(study, **kwargs)
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            notes.append(f"{what}: {exc}")
            continue
        # Optuna sizes the slice plot at 300 px a parameter: the card's width instead, like the other panels.
        figure.update_layout(width=None, autosize=True)
        figures.append((panel_id, figure))
    return figures, notes
