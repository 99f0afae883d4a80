"""Shared fixtures: running the real CLI, writing study files, the PostgreSQL server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures_tasks import slow

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600, env: dict[str, str] | None = None,
            check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``lrsearch ARGS`` in a real subprocess, as a user would."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "lrsearch", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env)
    slow.ran_cli(args, proc.returncode)
    if check and proc.returncode != 0:
        raise AssertionError(f"lrsearch {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def start_cli(*args: str) -> subprocess.Popen[str]:
    """Start ``lrsearch ARGS`` as a terminal starts a foreground command: with Python's default Ctrl-C handling,
    even when this test process inherited SIGINT ignored (a CI job run in the background does)."""
    if args and args[0] in slow.TRAINING_COMMANDS:
        slow.starting(f"starts `lrsearch {args[0]}` (a real process that trains)")
    return subprocess.Popen([sys.executable, "-m", "lrsearch", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def digits_spec(name: str = "t", **overrides: Any) -> dict[str, Any]:
    """A small, fast per-group study on the digits task."""
    spec: dict[str, Any] = {
        "name": name,
        "objective": {"metric": "val_accuracy", "direction": "maximize"},
        "budget": {"trials": 6, "epochs": 3},
        "sampler": {"name": "tpe", "seed": 1, "options": {"n_startup_trials": 3}},
        "pruner": {"name": "median", "options": {"n_startup_trials": 2, "n_warmup_steps": 0}},
        "task": {"builtin": "digits", "batch_size": 64, "device": "cpu", "threads": 1},
        "optimizer": {"name": {"choices": ["sgd", "adamw"]}, "weight_decay_exclude": ["bias", "norm"]},
        "groups": [
            {"name": "head", "params": ["head.*"], "lr": {"low": 1e-3, "high": 0.3, "log": True},
             "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True}},
            {"name": "backbone", "rest": True, "lr": {"ratio_of": "head", "low": 0.03, "high": 3.0, "log": True},
             "momentum": {"low": 0.8, "high": 0.95}},
        ],
        "schedule": {"per_group": True, "shape": ["constant", "cosine", "onecycle", "wsd"],
                     "warmup": {"low": 0.0, "high": 0.2}},
        # The tests of the run machinery count and order trials: no recipes queued ahead of the sampler's own
        # (tests/search sets search.recipes itself).
        "search": {"recipes": "none"},
    }
    for key, value in overrides.items():
        spec[key] = value
    return spec


def write_spec(directory: Path, spec: dict[str, Any], filename: str = "study.yaml") -> Path:
    path = directory / filename
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that take the ``postgres_url`` fixture need the server: mark them so ``-m "not postgres"`` skips them."""
    for item in items:
        if "postgres_url" in getattr(item, "fixturenames", ()) and item.get_closest_marker("postgres") is None:
            item.add_marker(pytest.mark.postgres)


def pytest_runtest_setup(item: pytest.Item) -> None:
    from tests.fixtures_tasks import databases

    databases.current_test[:] = [item]
    slow.current_test[:] = [item]
    slow.check_shared_fixtures(item)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any]) -> Iterator[Any]:
    """Which fixtures are being set up, for the ``slow`` guard (tests/fixtures_tasks/slow.py)."""
    slow.fixtures_in_setup.append(fixturedef)
    try:
        return (yield)
    finally:
        slow.fixtures_in_setup.pop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the PostgreSQL server named by LRSEARCH_TEST_POSTGRES_URL (skipped without it)."""
    from tests.fixtures_tasks.databases import fresh_postgres_database

    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def own_postgres() -> Iterator[Any]:
    """A PostgreSQL server of this test's own, which it may stop and start (see tests/fixtures_tasks/own_postgres.py)."""
    from tests.fixtures_tasks.own_postgres import own_postgres as start_own

    with start_own() as server:
        yield server
