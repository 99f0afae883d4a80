"""``lrsearch report`` shows Optuna's standard plots beside lrsearch's panels, and is written with the umask."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import optuna
import pytest

from lrsearch.dashboard._optuna_plots import PLOTS, optuna_figures
from tests.conftest import run_cli
from tests.dashboard.conftest import Study

TITLES = {"optuna-history": "Optimization History Plot", "optuna-importances": "Hyperparameter Importances",
          "optuna-parallel": "Parallel Coordinate Plot", "optuna-slice": "Slice Plot"}


def _figure(text: str, panel: str) -> dict:
    """The plotly figure drawn into the report's div ``panel`` (its data and layout, as plotly.js gets them)."""
    start = text.index(f'data-panel="{panel}"')
    call = re.search(r'Plotly\.newPlot\(\s*"[^"]+",\s*(\[.*?\]),\s*(\{.*?\}),\s*\{"displaylogo"', text[start:], re.S)
    assert call, f"no figure in panel {panel}"
    return {"data": json.loads(call.group(1)), "layout": json.loads(call.group(2))}


@pytest.mark.slow
def test_the_report_has_optunas_four_plots(digits_study: Study, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    proc = run_cli("report", str(digits_study.spec), "-o", str(out), check=True)
    assert "wrote" in proc.stdout
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask
    text = out.read_text()
    assert text.index('data-panel="lrsearch-') < text.index('data-panel="optuna-history"')
    complete = [t for t in optuna.load_study(study_name=digits_study.name, storage=f"sqlite:///{digits_study.db}")
                .get_trials() if t.state == optuna.trial.TrialState.COMPLETE]
    for panel, title in TITLES.items():
        figure = _figure(text, panel)
        assert title in json.dumps(figure["layout"].get("title", {})), panel
    history = _figure(text, "optuna-history")["data"][0]
    assert sorted(history["x"]) == sorted(t.number for t in complete)  # one point per complete trial
    assert "Not shown" not in text


def test_plots_a_study_cannot_have_yet_are_named_with_the_reason(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    optuna.create_study(study_name="empty", storage=url)
    figures, notes = optuna_figures(url, "empty")
    assert figures == [] and len(notes) == len(PLOTS) and all("no complete trial yet" in n for n in notes)


def test_files_lrsearch_writes_follow_the_umask(tmp_path: Path) -> None:
    """``tempfile`` would make them 0600 whatever the umask; a user's umask 022 gives 0644."""
    from lrsearch.files import write_text

    old = os.umask(0o022)
    try:
        write_text(tmp_path / "a.yaml", "x: 1\n")
        os.umask(0o007)
        write_text(tmp_path / "b.yaml", "x: 1\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.yaml").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.yaml").stat().st_mode) == 0o660
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml", "b.yaml"]  # no temporary file left
