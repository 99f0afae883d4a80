"""Make the README's screenshots with the same browser code as the tests: a digits study run by the real CLI,
the real ``lrsearch dashboard`` and ``lrsearch report``, headless Chromium.

    .venv/bin/python -m tests.dashboard.screenshots [OUT_DIR]     # default: docs/images
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.conftest import ROOT, digits_spec, run_cli, write_spec
from tests.dashboard.browser import chromium, clip_screenshot, errors, region, wait_for_plots
from tests.dashboard.conftest import Dashboard

WIDTH = 1400


def main(out: Path) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="lrsearch-screenshots-"))
    spec = write_spec(tmp, digits_spec("digits-per-group", budget={"trials": 24, "epochs": 6},
                                       confirm={"top": 3, "seeds": 2}))
    run_cli("run", str(spec), "--quiet", check=True)
    board = Dashboard(str(spec), "--no-publish").wait_ready()
    try:
        with chromium(WIDTH, 3400) as driver:
            driver.get(f"{board.base}/dashboard/studies/{board.study_id('digits-per-group')}")
            wait_for_plots(driver, "[id^='user-defined-plot:']", 4)
            box = region(driver, "[id^='user-defined-plot:']")
            print(clip_screenshot(driver, out / "dashboard.png", top=0, bottom=box["bottom"] + 24))
            assert errors(driver) == []
    finally:
        board.stop()
    report = tmp / "report.html"
    run_cli("report", str(spec), "-o", str(report), check=True)
    with chromium(WIDTH, 2400) as driver:
        driver.get(report.as_uri())
        wait_for_plots(driver, ".panel .js-plotly-plot", 4)
        box = region(driver, ".panels")
        print(clip_screenshot(driver, out / "report.png", top=0, bottom=box["bottom"] + 260))
        assert errors(driver) == []


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images")
