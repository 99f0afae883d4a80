"""In headless Chromium: the lrsearch panels render with data in the real dashboard, and the report renders
offline with no JavaScript error. Screenshots go to artifacts/dashboard/ (their paths are printed)."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli
from tests.dashboard.browser import (
    chromium,
    errors,
    full_page_screenshot,
    skip_reason,
    wait_for,
    wait_for_plots,
)
from tests.dashboard.conftest import ARTIFACTS, Study

# Skipped before the study fixture runs, with the reason shown (-ra), where Chromium or selenium is missing.
pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")]

TITLES = {
    "lrsearch-lr-curves": "Effective lr per group over training: top 5 trials",
    "lrsearch-value-vs-lr": "val_accuracy against each group's lr",
    "lrsearch-value-by-shape": "val_accuracy by schedule shape, per group",
    "lrsearch-epochs": "Epochs consumed per trial (pruning)",
}


def _check_panels(plots: list[dict], optuna_plots: bool = False) -> None:
    by_id = {p["id"]: p for p in plots if p["id"].startswith("lrsearch-")}
    assert set(by_id) == set(TITLES), sorted(by_id)
    others = {p["id"] for p in plots} - set(by_id)
    assert others == ({"optuna-history", "optuna-importances", "optuna-parallel", "optuna-slice"} if optuna_plots
                      else set()), sorted(others)
    for panel, title in TITLES.items():
        drawn = by_id[panel]
        assert drawn["title"] == title
        assert drawn["traces"] > 0 and drawn["points"] > 0, drawn
        assert drawn["svg_marks"] > 0, f"{panel}: plotly drew no marks: {drawn}"


def test_dashboard_shows_the_lrsearch_panels_with_data(digits_study: Study, dashboard_of) -> None:  # noqa: ANN001
    # Served from $LRSEARCH_STORAGE, publishing nothing itself: the panels are the ones `lrsearch run` published.
    board = dashboard_of("--no-publish", env={"LRSEARCH_STORAGE": digits_study.url})
    study_id = board.study_id(digits_study.name)
    with chromium() as driver:
        driver.get(f"{board.base}/dashboard/studies/{study_id}")
        _check_panels(wait_for_plots(driver, "[id^='user-defined-plot:']", len(TITLES)))
        shot = full_page_screenshot(driver, ARTIFACTS / "dashboard.png")
        print(f"dashboard screenshot: {shot}")
        assert shot.stat().st_size > 50_000

        driver.get(f"{board.base}/dashboard/studies/{study_id}/note")
        text = wait_for(lambda: "Best trial #" in driver.find_element("tag name", "body").text
                        and driver.find_element("tag name", "body").text, 30, "the study note")
        assert "Confirmed on the held-out split" in text and "lrsearch:begin" not in text
        print(f"note screenshot: {full_page_screenshot(driver, ARTIFACTS / 'dashboard-note.png')}")
        assert errors(driver) == []


def test_report_renders_offline_with_no_javascript_error(digits_study: Study) -> None:
    report = ARTIFACTS / "report.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    run_cli("report", str(digits_study.spec), "-o", str(report), check=True)
    with chromium() as driver:
        driver.get(report.as_uri())
        plots = wait_for_plots(driver, ".panel .js-plotly-plot", len(TITLES) + 4)  # and Optuna's four plots
        _check_panels(plots, optuna_plots=True)
        widths = driver.execute_script(
            "return Array.from(document.querySelectorAll('.panel')).map(p => [p.clientWidth, "
            "p.querySelector('.main-svg').getBoundingClientRect().width])")
        assert all(svg <= card for card, svg in widths), f"a plot is wider than its card: {widths}"
        assert driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)") == []
        rows = driver.find_elements("css selector", "table.trials tbody tr")
        assert len(rows) == 12
        assert "Best trial #" in driver.find_element("id", "best").text
        shot = full_page_screenshot(driver, ARTIFACTS / "report.png")
        print(f"report: {report}\nreport screenshot: {shot}")
        assert errors(driver) == []
