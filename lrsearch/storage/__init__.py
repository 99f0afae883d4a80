"""Storage: URLs, engine settings, and lrsearch's own tables beside Optuna's."""

from lrsearch.storage import _tables as tables
from lrsearch.storage._engine import (
    MAX_RETRIES,
    SQLITE_BUSY_TIMEOUT_S,
    check_storage,
    engine_kwargs,
    heartbeat_settings,
    lrsearch_engine,
    optuna_storage,
    redact_text,
)
from lrsearch.storage._peek import ExistingStudy, existing_study
from lrsearch.storage._store import EpochRow, Store
from lrsearch.storage._urls import check_sqlite_file, parse_url, redact, sqlite_path

__all__ = [
    "MAX_RETRIES", "SQLITE_BUSY_TIMEOUT_S", "EpochRow", "ExistingStudy", "Store", "check_sqlite_file", "check_storage",
    "engine_kwargs", "existing_study", "heartbeat_settings",
    "lrsearch_engine", "optuna_storage", "parse_url", "redact", "redact_text", "sqlite_path", "tables",
]
