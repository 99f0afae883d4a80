"""MySQL / MariaDB storage (``mysql+pymysql://``, the ``mysql`` extra): workers sharing a study finish exactly its
budget under the server's named lock, results read back, and a URL naming a driver that is not installed is a
clear error. Runs against the server named by LRSEARCH_TEST_MYSQL_URL (skipped without it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from lrsearch.config import parse_spec
from lrsearch.runner import open_study
from tests.conftest import run_cli, write_spec
from tests.fixtures_tasks.databases import fresh_mysql_database, query
from tests.fixtures_tasks.sleepy import rendezvous_env, sleepy_spec
from tests.reliability._helpers import refused, tiny_spec


@pytest.fixture
def mysql_url() -> Iterator[str]:
    with fresh_mysql_database() as url:
        yield url


@pytest.mark.slow
def test_two_workers_finish_exactly_the_budget(tmp_path: Path, mysql_url: str) -> None:
    path = write_spec(tmp_path, sleepy_spec("shared", trials=6, epochs=1))
    # Each trial waits until both workers have one: the first worker up cannot run them all on a loaded machine.
    proc = run_cli("run", str(path), "--storage", mysql_url, "--workers", "2", "--quiet", cwd=tmp_path, timeout=900,
                   env=rendezvous_env(tmp_path / "rendezvous", workers=2))
    assert proc.returncode == 0, proc.stderr
    study = optuna.load_study(study_name="shared", storage=mysql_url)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) + states.count(optuna.trial.TrialState.PRUNED) == 6
    assert len(states) == 6, states  # no trial beyond the budget
    rows = query(mysql_url, "SELECT trial_number, worker, epochs_run FROM lrsearch_trials")
    assert sorted(r["trial_number"] for r in rows) == list(range(6))
    assert len({r["worker"] for r in rows}) == 2, "both workers ran trials"
    assert {r["epochs_run"] for r in rows} == {1}
    export = run_cli("export", "--storage", mysql_url, "--study", "shared", "-o", str(tmp_path / "t.csv"), cwd=tmp_path)
    assert export.returncode == 0, export.stderr
    assert len((tmp_path / "t.csv").read_text().splitlines()) == 7
    best = run_cli("best", "--storage", mysql_url, "--study", "shared", cwd=tmp_path)
    assert best.returncode == 0 and "best search score" in best.stdout, best.stderr


def test_the_budget_lock_excludes_other_connections(mysql_url: str) -> None:
    spec = parse_spec(tiny_spec("locked"))
    first, second = open_study(spec, mysql_url), open_study(spec, mysql_url)
    events: list[str] = []
    holding = threading.Event()

    def hold() -> None:
        with first.budget_lock():
            events.append("first in")
            holding.set()
            time.sleep(1.0)  # gives the second a chance to enter, were the lock not held
            events.append("first out")

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert holding.wait(120)
    with second.budget_lock():
        events.append("second in")
    thread.join(120)
    assert events == ["first in", "first out", "second in"]


@pytest.mark.slow
def test_a_driver_that_is_not_installed_is_named(tmp_path: Path) -> None:
    pytest.importorskip("pymysql")
    try:
        import MySQLdb  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("mysqlclient is installed here")
    url = "mysql+mysqldb://root@127.0.0.1:3306/test"
    proc = run_cli("run", str(write_spec(tmp_path, tiny_spec(storage=url))), cwd=tmp_path)
    refused(proc, "needs the database driver 'mysqldb'", "pip install 'lrsearch[mysql]'", "mysql+pymysql://")
