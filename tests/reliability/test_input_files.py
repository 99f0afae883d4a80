"""Database files lrsearch cannot write, and where trial logs go: a read-only mount and an immutable file are
read (export, best) and refused for runs with the reason, never called corrupt; a study named ``..`` logs inside
the log directory; two databases in one folder keep their trial logs apart."""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_spec
from tests.reliability._helpers import digest, refused, tiny_spec

pytestmark = pytest.mark.slow  # real runs on databases lrsearch cannot write


@pytest.fixture(scope="module")
def finished_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding one finished digits trial of study 'ro', checkpointed into the one file."""
    tmp = tmp_path_factory.mktemp("ro-study")
    run_cli("run", str(write_spec(tmp, tiny_spec("ro", trials=1))), "--quiet", cwd=tmp, check=True)
    db = tmp / "lrsearch.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


def _reads_and_refuses_runs(db: Path, out: Path, why: str) -> None:
    url = f"sqlite:///{db}"
    before = digest(db)
    export = run_cli("export", "--storage", url, "--study", "ro", "-o", str(out / "trials.csv"), cwd=out)
    assert export.returncode == 0, export.stderr
    with open(out / "trials.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["state"] for r in rows] == ["COMPLETE"]
    best = run_cli("best", "--storage", url, "--study", "ro", cwd=out)
    assert best.returncode == 0 and "trial #0" in best.stdout, best.stderr
    spec = write_spec(out, tiny_spec("ro", trials=2, storage=url))
    proc = run_cli("run", str(spec), cwd=out)
    refused(proc, "is read-only here", why, "lrsearch can read it")
    assert "corrupt" not in proc.stderr
    assert digest(db) == before


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a read-only tmpfs needs root")
    mount = tmp_path / "ro"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_database_on_a_read_only_filesystem_is_read_not_called_corrupt(finished_db: Path, read_only_mount: Path,
                                                                         tmp_path: Path) -> None:
    shutil.copy(finished_db, read_only_mount / "lrsearch.db")
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_mount)], check=True)
    out = tmp_path / "out"
    out.mkdir()
    _reads_and_refuses_runs(read_only_mount / "lrsearch.db", out, "read-only filesystem")
    assert sorted(p.name for p in read_only_mount.iterdir()) == ["lrsearch.db"]


def test_an_immutable_database_file_is_read_and_refused_for_runs(finished_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "lrsearch.db"
    shutil.copy(finished_db, db)
    made = subprocess.run(["chattr", "+i", str(db)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not possible here (needs root and a filesystem with flags): {made.stderr.strip()}")
    try:
        out = tmp_path / "out"
        out.mkdir()
        _reads_and_refuses_runs(db, out, "chattr +i")
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=False)


def test_a_study_named_dotdot_logs_inside_the_log_directory(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    proc = run_cli("run", str(write_spec(work, tiny_spec("..", trials=1))), "--quiet", cwd=work)
    assert proc.returncode == 0, proc.stderr
    logs = list(tmp_path.rglob("trial-*.log"))
    assert len(logs) == 1 and logs[0].parent.parent == work / "lrsearch-logs", logs
    assert logs[0].parent.name.startswith("_..-")


def test_two_databases_in_one_folder_keep_their_trial_logs_apart(tmp_path: Path) -> None:
    for db in ("a.db", "b.db"):
        spec = write_spec(tmp_path, tiny_spec("same", trials=1, storage=f"sqlite:///{db}"), f"{db}.yaml")
        run_cli("run", str(spec), "--quiet", cwd=tmp_path, check=True)
    paths = []
    for db in ("a.db", "b.db"):
        with sqlite3.connect(tmp_path / db) as conn:
            (path,) = conn.execute("SELECT log_path FROM lrsearch_trials WHERE trial_number = 0").fetchone()
        assert Path(path) == tmp_path / f"lrsearch-logs-{db}" / "same" / "trial-0.log"
        assert Path(path).is_file()
        paths.append(path)
    assert paths[0] != paths[1]
