"""``lrsearch compare`` on the two real studies: the numbers their trials frames imply."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from lrsearch.results import summarize, threshold, trials_frame
from lrsearch.results._compare import fmt_value
from tests.conftest import run_cli
from tests.results.conftest import Studies

BUDGET = 10


def table(stdout: str) -> dict[str, list[str]]:
    """The compare table as {row label: [cell per study]} (cells are separated by two or more spaces)."""
    rows = {}
    for line in stdout.splitlines()[1:]:
        parts = re.split(r"\s{2,}", line.strip())
        if len(parts) >= 2:
            rows[parts[0]] = parts[1:]
    return rows


def expected(frame: pd.DataFrame) -> dict[str, str]:
    """The compare cells, computed here from the frame by walking the trials in completion order."""
    complete = frame[frame["state"] == "COMPLETE"]
    best = complete["value"].max()
    best_number = int(complete[complete["value"] == best]["number"].iloc[0])
    consumed, running, reached, within = 0, None, {}, None
    for row in frame.dropna(subset=["datetime_complete"]).sort_values("datetime_complete").itertuples():
        consumed += row.epochs_run
        if row.state == "COMPLETE":
            running = row.value if running is None else max(running, row.value)
            if consumed <= BUDGET and (within is None or row.value > within[0]):
                within = (row.value, row.number)
        for q in (0.95, 0.99):
            if q not in reached and running is not None and running >= q * best:  # maximize, best > 0
                reached[q] = consumed
    counts = frame["state"].value_counts()
    return {
        "best": f"{fmt_value(best)} (#{best_number})",
        "trials": f"{counts.get('COMPLETE', 0)} complete, {counts.get('PRUNED', 0)} pruned, {counts.get('FAIL', 0)} failed",
        "epochs consumed": str(frame["epochs_run"].sum()),
        "epochs to 95% of best": str(reached[0.95]),
        "epochs to 99% of best": str(reached[0.99]),
        f"best within {BUDGET} epochs": f"{fmt_value(within[0])} (#{within[1]}" if within else "-",
    }


@pytest.fixture(scope="module")
def by_file(studies: Studies) -> str:
    return run_cli("compare", str(studies.alpha), str(studies.beta), "--budget", str(BUDGET), check=True).stdout


@pytest.mark.slow
def test_compare_shows_the_numbers_the_frames_imply(studies: Studies, by_file: str) -> None:
    out = by_file
    rows = table(out)
    assert out.splitlines()[0].split() == ["alpha", "beta"]
    for column, name in enumerate(("alpha", "beta")):
        frame = trials_frame(studies.url, name)
        for label, cell in expected(frame).items():
            assert rows[label][column].startswith(cell), (name, label, rows[label][column], cell)
    assert rows["objective"] == ["maximize val_accuracy", "maximize val_accuracy"]
    assert rows["best: head"][0].startswith("lr ") and "layer decay" in rows["best: layers"][1]
    assert rows["best: backbone"][1] == "-", "beta has no backbone group"
    assert re.search(r"^best search score: (alpha|beta) leads by|^best search score: tie", out, re.MULTILINE)


@pytest.mark.slow
def test_compare_by_name_with_storage_matches_by_file(studies: Studies, by_file: str) -> None:
    by_name = run_cli("compare", "alpha", "beta", "--storage", studies.url, "--budget", str(BUDGET), check=True).stdout
    assert table(by_file) == table(by_name)


def test_threshold_for_both_directions() -> None:
    assert threshold(0.80, 0.95, "maximize") == pytest.approx(0.76)
    assert threshold(0.20, 0.95, "minimize") == pytest.approx(0.21)
    assert threshold(-2.0, 0.99, "maximize") == pytest.approx(-2.02)
    assert threshold(-2.0, 0.99, "minimize") == pytest.approx(-1.98)


def test_minimize_study_summary_from_a_frame() -> None:
    """A minimizing study: the running minimum, with pruned and failed trials still consuming epochs."""
    start = pd.Timestamp("2026-01-01", tz="UTC")
    frame = pd.DataFrame({
        "study": "m", "number": [0, 1, 2, 3], "state": ["COMPLETE", "PRUNED", "FAIL", "COMPLETE"],
        "value": [0.50, None, None, 0.40], "metric": "val_loss", "direction": "minimize",
        "datetime_start": [start] * 4, "duration_s": [1.0, 1.0, 1.0, 1.0],
        "datetime_complete": [start + pd.Timedelta(seconds=s) for s in (4, 1, 2, 3)],  # finished: 1, 2, 3, 0
        "epochs_run": [4, 1, 2, 4],
    })
    s = summarize(frame, budget=7)
    assert (s.best_value, s.best_number, s.epochs_consumed) == (0.40, 3, 11)
    # order: #1 (1 epoch), #2 (3), #3 (7, best 0.40), #0 (11); 0.40 is reached at 7 epochs.
    assert s.epochs_to == {0.95: 7, 0.99: 7}
    assert (s.budget_value, s.budget_number, s.budget_trials) == (0.40, 3, 3)
    assert summarize(frame, budget=6).budget_value is None


@pytest.mark.slow
def test_compare_errors(studies: Studies) -> None:
    no_storage = run_cli("compare", "alpha", "beta")
    assert no_storage.returncode == 2 and "--storage" in no_storage.stderr and "Traceback" not in no_storage.stderr
    unknown = run_cli("compare", "alpha", "gamma", "--storage", studies.url)
    assert unknown.returncode == 2 and "no lrsearch study 'gamma'" in unknown.stderr and "alpha, beta" in unknown.stderr
