"""Fixtures for the task tests: a fresh task cache per test and a pretrained-backbone cache outside $HOME."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lrsearch.tasks import clear_task_cache


@pytest.fixture(scope="session")
def shared_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One backbone cache for the whole session, so digits-transfer pretrains once, not once a test."""
    return tmp_path_factory.mktemp("lrsearch-cache")


@pytest.fixture(autouse=True)
def _isolated_tasks(monkeypatch: pytest.MonkeyPatch, shared_cache_dir: Path) -> Iterator[None]:
    monkeypatch.setenv("LRSEARCH_CACHE_DIR", str(shared_cache_dir))
    clear_task_cache()
    yield
    clear_task_cache()
