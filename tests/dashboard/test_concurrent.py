"""A real ``lrsearch run`` on SQLite while a real ``lrsearch dashboard`` on the same file is polled hard and
republishes the panels every second: the run must end as usual, with no failed trial."""

from __future__ import annotations

import threading
import urllib.error
from pathlib import Path

import optuna
import pytest

from tests.conftest import digits_spec, run_cli, write_spec
from tests.dashboard.conftest import get

pytestmark = pytest.mark.slow  # a real run beside a dashboard polled hard


def test_a_run_is_not_disturbed_by_a_polled_dashboard(tmp_path: Path, dashboard_of) -> None:  # noqa: ANN001
    spec = write_spec(tmp_path, digits_spec("busy", budget={"trials": 10, "epochs": 4}))
    run_cli("run", str(spec), "--trials", "2", "--quiet", check=True)  # the database the dashboard opens
    board = dashboard_of(str(spec), "--publish-every", "1")
    study_id = board.study_id("busy")
    stop, answers, errors = threading.Event(), [], []

    def poll(path: str) -> None:
        while not stop.is_set():
            try:
                answers.append(get(f"{board.base}{path}", timeout=60)[0])
            except (urllib.error.URLError, OSError) as exc:
                errors.append(f"{path}: {exc}")

    pollers = [threading.Thread(target=poll, args=(p,)) for p in
               (f"/api/studies/{study_id}", f"/api/studies/{study_id}", f"/csv/{study_id}", "/api/studies")]
    for thread in pollers:
        thread.start()
    try:
        proc = run_cli("run", str(spec), "--quiet")
    finally:
        stop.set()
        for thread in pollers:
            thread.join()
    output = board.stop()

    assert proc.returncode == 0, proc.stderr
    assert "locked" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr
    study = optuna.load_study(study_name="busy", storage=f"sqlite:///{tmp_path / 'lrsearch.db'}")
    states = [t.state for t in study.trials]
    assert optuna.trial.TrialState.FAIL not in states
    assert sum(s in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for s in states) == 10
    assert not errors and set(answers) == {200}, (errors[:3], set(answers))
    assert len(answers) >= 8, f"only {len(answers)} dashboard requests overlapped the run"
    assert output.count("published the panels of study 'busy'") >= 2, output  # at start, and while it ran
    assert "warning" not in output, output
