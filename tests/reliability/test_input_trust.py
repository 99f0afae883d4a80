"""The trust boundary of workers: a spec read from the database names the code a worker imports. With an
allow-list (``--allow-module`` / ``LRSEARCH_ALLOWED_MODULES``) a study naming another module is refused before
anything is imported or any trial is touched."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lrsearch.errors import TaskError
from lrsearch.tasks import check_allowed
from tests.conftest import run_cli, write_spec
from tests.reliability._helpers import refused, tiny_spec

MODULE = '''
import pathlib
pathlib.Path("imported-" + __name__).touch()  # what any code run at import could do

from lrsearch.tasks import load_task


def build():
    return load_task("digits")
'''


@pytest.mark.parametrize(("module", "allowed"), [
    ("my_pkg", True), ("my_pkg.tasks", True), ("my_pkg2.tasks", False), ("other", False), ("my", False),
])
def test_prefixes_match_whole_module_names(monkeypatch: pytest.MonkeyPatch, module: str, allowed: bool) -> None:
    monkeypatch.setenv("LRSEARCH_ALLOWED_MODULES", "my_pkg, lrsearch_tasks.")
    if allowed:
        check_allowed(module, "test")
    else:
        with pytest.raises(TaskError, match="not in the allowed modules"):
            check_allowed(module, "test")


@pytest.mark.slow
def test_a_worker_refuses_a_study_outside_its_allow_list(tmp_path: Path) -> None:
    (tmp_path / "usertask.py").write_text(MODULE)
    spec = tiny_spec("trusted", trials=1, task={"entrypoint": "usertask:build", "device": "cpu", "threads": 1})
    run_cli("run", str(write_spec(tmp_path, spec)), "--workers", "0", cwd=tmp_path, check=True)
    (tmp_path / "imported-usertask").unlink()  # the study was created (and checked) here
    url = f"sqlite:///{tmp_path / 'lrsearch.db'}"

    proc = run_cli("worker", "--storage", url, "--allow-module", "company.tasks", cwd=tmp_path)
    refused(proc, "module 'usertask' is not in the allowed modules (company.tasks", "nothing was imported")
    assert not (tmp_path / "imported-usertask").exists()
    with sqlite3.connect(tmp_path / "lrsearch.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 0

    ok = run_cli("worker", "--storage", url, "--quiet", cwd=tmp_path, env={"LRSEARCH_ALLOWED_MODULES": "usertask"})
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "imported-usertask").exists()
    with sqlite3.connect(tmp_path / "lrsearch.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0] == 1
