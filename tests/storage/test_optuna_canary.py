"""Canary for the Optuna internals lrsearch uses (all of them in ``lrsearch.storage.optuna_adapter``).

When an Optuna release moves one of them, a test here fails naming the symbol, before any study misbehaves.
"""

from __future__ import annotations

import importlib
import inspect
import time
from pathlib import Path

import optuna
import pytest
import sqlalchemy as sa

from lrsearch.storage import optuna_adapter as adapter

# (module, attribute, parameters lrsearch passes by name)
PRIVATE_SYMBOLS = [
    ("optuna.storages._heartbeat", "BaseHeartbeat", ()),
    ("optuna.storages._heartbeat", "is_heartbeat_enabled", ()),
    ("optuna.study._tell", "_tell_with_warning", ("study", "trial", "value_or_values", "state", "suppress_warning")),
]
PRIVATE_ATTRIBUTES = [
    ("optuna.Study", "_study_id"), ("optuna.Study", "_storage"), ("optuna.Trial", "_trial_id"),
    ("optuna.trial.FrozenTrial", "_trial_id"),
]
# Optuna's tables and the columns lrsearch queries in raw SQL.
OPTUNA_COLUMNS = {
    "trials": {"trial_id", "number", "study_id", "state", "datetime_start", "datetime_complete"},
    "trial_heartbeats": {"trial_id", "heartbeat"},
    "studies": {"study_id", "study_name"},
    "study_directions": {"study_id", "direction", "objective"},
}


@pytest.mark.parametrize(("module", "name", "params"), PRIVATE_SYMBOLS, ids=[f"{m}.{n}" for m, n, _ in PRIVATE_SYMBOLS])
def test_private_symbol_is_where_lrsearch_expects_it(module: str, name: str, params: tuple[str, ...]) -> None:
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"Optuna {optuna.__version__} has no {module}.{name} ({exc}); update lrsearch.storage.optuna_adapter")
    if params:
        accepted = set(inspect.signature(obj).parameters)
        missing = [p for p in params if p not in accepted]
        assert not missing, f"{module}.{name} no longer takes {missing} (Optuna {optuna.__version__})"


def _storage(tmp_path: Path) -> optuna.storages.RDBStorage:
    return optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'canary.db'}", heartbeat_interval=1, grace_period=1)


@pytest.mark.parametrize(("owner", "attribute"), PRIVATE_ATTRIBUTES, ids=[f"{o}.{a}" for o, a in PRIVATE_ATTRIBUTES])
def test_private_attribute_exists(tmp_path: Path, owner: str, attribute: str) -> None:
    study = optuna.create_study(storage=_storage(tmp_path), study_name="canary")
    trial = study.ask()
    study.tell(trial, 1.0)
    objects = {"optuna.Study": study, "optuna.Trial": trial, "optuna.trial.FrozenTrial": study.trials[0]}
    assert hasattr(objects[owner], attribute), f"{owner}.{attribute} is gone in Optuna {optuna.__version__}"


def test_stale_trial_query_is_a_method_of_the_heartbeat_storage() -> None:
    assert hasattr(optuna.storages.RDBStorage, "_get_stale_trial_ids"), (
        f"RDBStorage._get_stale_trial_ids is gone in Optuna {optuna.__version__}")


def test_optuna_tables_have_the_columns_lrsearch_queries(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    optuna.create_study(storage=storage, study_name="canary")
    inspector = sa.inspect(storage.engine)
    for table, columns in OPTUNA_COLUMNS.items():
        have = {c["name"] for c in inspector.get_columns(table)}
        assert columns <= have, f"Optuna table {table!r} lost columns {sorted(columns - have)}"


def test_the_adapter_works_end_to_end_on_this_optuna(tmp_path: Path) -> None:
    """What the runner relies on: ids, quiet tell, counts, fingerprints and stale trials."""
    storage = _storage(tmp_path)
    study = optuna.create_study(storage=storage, study_name="canary")
    done, lost = study.ask(), study.ask()
    adapter.tell_quietly(study, done, optuna.trial.TrialState.COMPLETE, 0.5)
    assert study.trials[0].state == optuna.trial.TrialState.COMPLETE and study.trials[0].value == 0.5
    assert adapter.trial_id(lost) == study.trials[1]._trial_id
    with storage.engine.connect() as conn:
        counts = dict((str(s).split(".")[-1], n) for s, n in adapter.count_trials_by_state(conn, adapter.study_id(study)))
        assert counts == {"COMPLETE": 1, "RUNNING": 1}
        assert adapter.fingerprint_query(conn, "canary")[:2] == (2, 1)
        assert adapter.study_id_by_name(conn, "canary") == adapter.study_id(study)
        assert adapter.study_id_by_name(conn, "no such study") is None
    assert adapter.heartbeat_enabled(adapter.storage_of(study))
    # A RUNNING trial with no heartbeat becomes stale after the grace period (1 s here).
    deadline = time.monotonic() + 60
    while adapter.trial_id(lost) not in adapter.stale_trial_ids(study):
        assert time.monotonic() < deadline, "a trial without a heartbeat was never reported stale"
        time.sleep(0.5)


def test_pinned_optuna_range_matches_the_adapter() -> None:
    """pyproject pins the range the adapter was tested with, and the installed Optuna is inside it."""
    import tomllib
    from packaging.specifiers import SpecifierSet

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    pins = [d for d in pyproject["project"]["dependencies"] if d.replace(" ", "").startswith("optuna")]
    assert pins == ["optuna" + ",".join(adapter.OPTUNA_TESTED)]
    assert optuna.__version__ in SpecifierSet(",".join(adapter.OPTUNA_TESTED))
