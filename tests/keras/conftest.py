"""Keras tests run on Keras's PyTorch backend; they are skipped, saying why, where the keras extra is missing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")  # before anything imports keras
pytest.importorskip("keras", reason="needs the keras extra: pip install -e '.[keras]' (scripts/test installs it)")

from lrsearch.tasks import clear_task_cache  # noqa: E402


@pytest.fixture(scope="session")
def keras_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pretrained-backbone cache for the session: keras-digits-transfer pretrains once, not once a test."""
    return tmp_path_factory.mktemp("lrsearch-keras-cache")


@pytest.fixture(autouse=True)
def _isolated_tasks(monkeypatch: pytest.MonkeyPatch, keras_cache_dir: Path) -> Iterator[None]:
    monkeypatch.setenv("LRSEARCH_CACHE_DIR", str(keras_cache_dir))
    clear_task_cache()
    yield
    clear_task_cache()


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """Small models train fastest on one thread, as the runner would give them (restored for other tests)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
