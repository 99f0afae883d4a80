"""A fresh PostgreSQL database for a module of tests (``postgres_url`` in tests/conftest.py is per test)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

# The test being set up (tests/conftest.py sets it), so that a test using PostgreSQL without the ``postgres``
# marker fails at once: ``-m "not postgres"`` must really leave out every test that needs the server.
current_test: list[pytest.Item] = []


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Like the ``postgres_url`` fixture: skips when LRSEARCH_TEST_POSTGRES_URL is unset."""
    if current_test and current_test[-1].get_closest_marker("postgres") is None:
        pytest.fail(f"{current_test[-1].nodeid} uses PostgreSQL but is not marked postgres", pytrace=False)
    base = os.environ.get("LRSEARCH_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("LRSEARCH_TEST_POSTGRES_URL is not set (point it at a PostgreSQL server to run this test)")
    name = f"lrsearch_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def query(url: str, sql: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of ``sql`` as dicts, on a short-lived engine."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]
    finally:
        engine.dispose()


@contextmanager
def fresh_mysql_database() -> Iterator[str]:
    """A new database on the MySQL/MariaDB server named by LRSEARCH_TEST_MYSQL_URL (skipped when it is unset)."""
    base = os.environ.get("LRSEARCH_TEST_MYSQL_URL")
    if not base:
        pytest.skip("LRSEARCH_TEST_MYSQL_URL is not set (point it at a MySQL or MariaDB server to run this test)")
    pytest.importorskip("pymysql", reason="the mysql extra is not installed (pip install 'lrsearch[mysql]')")
    name = f"lrsearch_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}`"))
    try:
        yield sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()
