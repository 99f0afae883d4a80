"""An own loop written with TrialContext records exactly what the managed loop records."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch

from examples.digits_own_loop import train as own_loop_train
from lrsearch.config import parse_spec
from lrsearch.space import SearchSpace
from lrsearch.tasks import load_task
from lrsearch.training import NullRecorder, TrialContext, managed_train, run_train_function
from tests.conftest import ROOT, digits_spec, run_cli, write_spec


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Small models train fastest on one thread, and a shared machine does not oversubscribe its cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _spec(name: str, **task: Any) -> dict[str, Any]:
    spec = digits_spec(name, budget={"trials": 2, "epochs": 3})
    spec["groups"][1]["freeze_epochs"] = {"choices": [0, 1]}
    spec["task"] = {**spec["task"], **task}
    return spec


def _sampled(seed: int) -> Any:
    space = SearchSpace(parse_spec(_spec("s")))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return space.sample(study.ask())


def _without_wall_time(epochs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "wall_time"} for e in epochs]


@pytest.mark.parametrize("sampler_seed", [0, 3, 5])
def test_own_loop_records_the_same_rows_as_the_managed_loop(sampler_seed: int) -> None:
    config = _sampled(sampler_seed)
    managed, own = NullRecorder(), NullRecorder()
    managed_train(TrialContext(config=config, objective="val_accuracy", recorder=managed), load_task("digits"))
    run_train_function(TrialContext(config=config, objective="val_accuracy", recorder=own), own_loop_train)
    assert len(managed.epochs) == 3
    assert _without_wall_time(own.epochs) == _without_wall_time(managed.epochs)


def _rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.slow
def test_own_loop_study_stores_the_same_curves_as_the_managed_study(tmp_path: Path) -> None:
    """Through the CLI and SQLite: the same sampler seed gives the same configs, so every stored row must match."""
    tables = {}
    for kind, task in (("managed", {"builtin": "digits"}), ("own", {"train": "examples.digits_own_loop:train"})):
        directory = tmp_path / kind
        directory.mkdir()
        spec = _spec("same", **task)
        if kind == "own":
            del spec["task"]["builtin"]
        path = write_spec(directory, spec)
        run_cli("run", str(path), "--quiet", "--no-confirm", cwd=ROOT, check=True)
        db = directory / "lrsearch.db"
        tables[kind] = (
            _rows(db, "SELECT trial_number, epoch, step, metrics FROM lrsearch_epochs ORDER BY trial_number, epoch"),
            _rows(db, "SELECT trial_number, epoch, optimizer, group_name, lr, momentum, weight_decay, frozen "
                      "FROM lrsearch_group_epochs ORDER BY trial_number, epoch, id"),
            _rows(db, "SELECT t.number, t.state, v.value FROM trials t LEFT JOIN trial_values v USING (trial_id) "
                      "ORDER BY t.number"),
        )
    epochs, groups, trials = tables["managed"]
    assert len(trials) == 2 and len(epochs) >= 4 and len(groups) >= 4 * len(epochs)
    assert tables["own"] == tables["managed"]
