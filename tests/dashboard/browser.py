"""Headless Chromium for the dashboard tests (Selenium + the Debian chromium-driver; nothing is downloaded)."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--disable-default-apps", "--hide-scrollbars", "--force-device-scale-factor=1"]


def skip_reason() -> str | None:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        return f"headless Chromium needs {CHROMIUM} and {CHROMEDRIVER} (Debian: apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is not installed (pip install -e '.[dev]')"
    return None


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A fresh headless Chromium (own profile, no network of its own) with the browser console log enabled."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="lrsearch-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def errors(driver: Any) -> list[str]:
    """Console errors and uncaught exceptions (page errors) logged since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def wait_for(condition: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - the page may still be rendering
            last_exc = exc
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_exc})" if last_exc else ""))


def full_page_screenshot(driver: Any, path: Path, width: int = 1400) -> Path:
    """A screenshot of the whole page height (the window is resized to fit, capped at 6000 px)."""
    height = driver.execute_script(
        "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight,"
        " ...Array.from(document.querySelectorAll('*')).map(e => e.scrollHeight > e.clientHeight + 5 &&"
        " getComputedStyle(e).overflowY !== 'visible' ? e.scrollHeight : 0))")
    driver.set_window_size(width, min(int(height) + 40, 6000))
    time.sleep(0.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    return path


PANELS_JS = """
return Array.from(document.querySelectorAll(arguments[0])).map(el => ({
  id: el.id.replace('user-defined-plot:', ''),
  title: (el.querySelector('.gtitle') || {}).textContent || null,
  traces: (el.data || []).length,
  points: (el.data || []).reduce((n, t) => n + ((t.y || t.x || []).length || 0), 0),
  svg_traces: el.querySelectorAll('.trace').length,
  svg_marks: el.querySelectorAll('.point, .bars path, path.js-line, .boxlayer path.box').length,
  width: el.getBoundingClientRect().width,
}));
"""


def rendered_plots(driver: Any, selector: str) -> list[dict[str, Any]]:
    """What plotly drew for each plot matching ``selector``: title, traces, data points, SVG marks."""
    return driver.execute_script(PANELS_JS, selector)


def wait_for_plots(driver: Any, selector: str, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    def drawn() -> list[dict[str, Any]] | None:
        plots = rendered_plots(driver, selector)
        return plots if len(plots) >= count and all(p["svg_traces"] > 0 for p in plots) else None

    return wait_for(drawn, timeout, f"{count} plots matching {selector!r} to be drawn")


def clip_screenshot(driver: Any, path: Path, top: float, bottom: float, left: float = 0, right: float | None = None) -> Path:
    """A PNG of the page region [left, right] x [top, bottom] (page coordinates, beyond the viewport too)."""
    import base64

    width = right if right is not None else driver.execute_script("return document.documentElement.clientWidth")
    data = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": left, "y": top, "width": width - left, "height": bottom - top, "scale": 1},
    })["data"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(data))
    return path


def region(driver: Any, selector: str) -> dict[str, float]:
    """The page-coordinate box around every element matching ``selector``."""
    return driver.execute_script("""
      const boxes = Array.from(document.querySelectorAll(arguments[0])).map(e => e.getBoundingClientRect());
      return {top: Math.min(...boxes.map(b => b.top)) + window.scrollY, bottom: Math.max(...boxes.map(b => b.bottom)) + window.scrollY,
              left: Math.min(...boxes.map(b => b.left)), right: Math.max(...boxes.map(b => b.right))};""", selector)
