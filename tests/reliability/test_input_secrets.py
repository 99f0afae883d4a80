"""A password given as a query parameter (``?password=...``) is hidden wherever the URL is shown or stored."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from lrsearch.storage import redact, redact_text
from tests.conftest import run_cli, write_spec
from tests.dashboard.conftest import Dashboard
from tests.fixtures_tasks.databases import query
from tests.reliability._helpers import refused, tiny_spec

SECRET = "q-s3cret-9"


def _with_query_password(url: str) -> str:
    # The server trusts local connections, so the password is accepted whatever it is: enough to see none leaks.
    return sa.make_url(url).update_query_dict({"password": SECRET, "application_name": "t"}).render_as_string(
        hide_password=False)


@pytest.mark.parametrize("url", [
    f"postgresql+psycopg://alice@db:5432/x?password={SECRET}",
    f"postgresql+psycopg://alice@db/x?sslmode=require&sslpassword={SECRET}&password={SECRET}",
    f"mysql+pymysql://bob@db/x?passwd={SECRET}",
    f"postgresql+psycopg://alice:{SECRET}@db/x?password={SECRET}",
])
def test_every_password_of_a_url_is_hidden(url: str) -> None:
    shown = redact(url)
    assert SECRET not in shown and "***" in shown and "db" in shown
    assert SECRET not in redact_text(f"connect failed for {url} with password={SECRET}", url)


def test_an_unparsable_url_hides_its_query_password() -> None:
    assert SECRET not in redact(f"postgresql+psycopg://al ice@db:notaport/x?password={SECRET}")


@pytest.mark.slow
def test_run_summary_stored_spec_and_dashboard_banner_hide_it(tmp_path: Path, postgres_url: str) -> None:
    url = _with_query_password(postgres_url)
    path = write_spec(tmp_path, tiny_spec("secret", trials=1))
    proc = run_cli("run", str(path), "--storage", url, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    assert "password=***" in proc.stdout  # the summary names the storage, password hidden
    stored = query(postgres_url, "SELECT spec, source FROM lrsearch_studies")
    assert stored and SECRET not in str(stored)
    assert "password=***" in str(stored[0]["spec"])
    board = Dashboard("--storage", url, "--no-publish", cwd=tmp_path)
    try:
        board.wait_ready()
    finally:
        output = board.stop()
    assert "serving postgresql+psycopg://postgres@" in output and "password=***" in output, output
    assert SECRET not in output


@pytest.mark.slow
def test_a_connection_error_hides_it(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://alice@127.0.0.1:1/nowhere?password={SECRET}"
    proc = run_cli("run", str(write_spec(tmp_path, tiny_spec(storage=url))))
    refused(proc, "cannot connect", "password=***")
    assert SECRET not in proc.stdout + proc.stderr
    worker = run_cli("worker", env={"LRSEARCH_STORAGE": url})
    refused(worker, "password=***")
    assert SECRET not in worker.stdout + worker.stderr
