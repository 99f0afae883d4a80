"""Why the stock dashboard can lock a running SQLite study (optuna-dashboard #545), and that lrsearch's does not.

The cause, shown with the stock app itself: in SQLite's rollback-journal mode every SELECT the dashboard runs
(it re-reads all trials on each poll) holds a SHARED lock, and a writer cannot commit while one is held; a writer
with a short busy timeout then fails with "database is locked". lrsearch's dashboard serves through a storage
that puts the file in WAL mode (readers never block writers) with a 60 s busy timeout, optionally read-only.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
import warnings
from pathlib import Path
from wsgiref.util import setup_testing_defaults

import optuna
import pytest
from optuna.distributions import FloatDistribution
from sqlalchemy import event

from lrsearch.dashboard import dashboard_storage, make_app


def _make_study(path: Path, trials: int = 80) -> None:
    """An Optuna study with enough trials that each dashboard poll runs for a while; left in rollback mode."""
    storage = optuna.storages.RDBStorage(f"sqlite:///{path}")
    # Fast to build (no fsync per commit); switched to the rollback journal (SQLite's default) below.
    event.listen(storage.engine, "connect", lambda conn, _: conn.execute("PRAGMA synchronous=OFF"))
    storage.engine.dispose()
    study = optuna.create_study(study_name="s", storage=storage)
    dists = {f"p{i}": FloatDistribution(0, 1) for i in range(8)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.add_trials([
            optuna.trial.create_trial(params={k: (n * 7 + i) % 10 / 10 for i, k in enumerate(dists)},
                                      distributions=dists, value=float(n),
                                      intermediate_values={s: float(n + s) for s in range(10)})
            for n in range(trials)
        ])
    storage.engine.dispose()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("locking") / "template.db"
    _make_study(path)
    return path


def _copy(template: Path, path: Path) -> Path:
    shutil.copyfile(template, path)
    return path


def _poll(app, stop: threading.Event, answers: list[int]) -> None:  # noqa: ANN001
    while not stop.is_set():
        environ = {"PATH_INFO": "/api/studies/1", "REQUEST_METHOD": "GET"}
        setup_testing_defaults(environ)
        status: list[str] = []
        b"".join(app(environ, lambda s, h, exc=None, seen=status: seen.append(s)))
        answers.append(int(status[0].split()[0]))


def _refused_commits(path: Path, app, seconds: float) -> tuple[int, int, list[int]]:  # noqa: ANN001
    """Poll the dashboard app in a thread while a writer with no busy timeout commits; count its refusals."""
    writer = sqlite3.connect(path, timeout=0, isolation_level=None)
    writer.execute("CREATE TABLE IF NOT EXISTS writes (x)")  # before the reads start: only the commits are counted
    stop, answers = threading.Event(), []
    poller = threading.Thread(target=_poll, args=(app, stop, answers), daemon=True)
    poller.start()
    commits = refused = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline or not answers:
            try:
                writer.execute("BEGIN IMMEDIATE")
                writer.execute("INSERT INTO writes VALUES (1)")
                writer.execute("COMMIT")
                commits += 1
            except sqlite3.OperationalError as exc:
                assert "locked" in str(exc)
                refused += 1
                if writer.in_transaction:
                    writer.execute("ROLLBACK")
            time.sleep(0.002)
    finally:
        stop.set()
        poller.join()
        writer.close()
    return commits, refused, answers


def test_stock_dashboard_reads_block_writers_in_rollback_journal_mode(tmp_path: Path, template_db: Path) -> None:
    from optuna_dashboard import wsgi

    db = _copy(template_db, tmp_path / "stock.db")
    app = wsgi(f"sqlite:///{db}")  # what `optuna-dashboard sqlite:///stock.db` serves
    commits, refused, answers = _refused_commits(db, app, seconds=2.5)
    assert set(answers) == {200}
    assert refused > 0, f"expected the stock dashboard's reads to block the writer ({commits} commits, 0 refused)"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


@pytest.mark.parametrize("read_only", [False, True], ids=["default", "read-only"])
def test_lrsearch_dashboard_reads_never_block_writers(tmp_path: Path, template_db: Path, read_only: bool) -> None:
    db = _copy(template_db, tmp_path / "ours.db")
    app = make_app(f"sqlite:///{db}", read_only=read_only)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal", "serving switches the file to WAL"
    commits, refused, answers = _refused_commits(db, app, seconds=2.5)
    assert set(answers) == {200} and len(answers) >= 2
    assert commits > 20
    assert refused == 0, f"the dashboard's reads refused {refused} of {commits + refused} commits"


def test_read_only_storage_cannot_write(tmp_path: Path) -> None:
    db = tmp_path / "ro.db"
    _make_study(db, trials=3)
    storage = dashboard_storage(f"sqlite:///{db}", read_only=True)
    assert len(storage.get_all_trials(1)) == 3
    with pytest.raises(Exception) as refused:
        storage.set_study_user_attr(1, "x", 1)
    assert "readonly database" in str(refused.value.__cause__ or refused.value)
    writable = dashboard_storage(f"sqlite:///{db}")
    writable.set_study_user_attr(1, "x", 1)
    assert storage.get_study_user_attrs(1) == {"x": 1}
