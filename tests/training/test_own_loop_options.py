"""Own loops: task.options as keyword arguments, ctx.cache once per worker process, task.model checked by
``lrsearch validate --model`` before any trial, and one epoch convention."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch

from examples import digits_options_loop as own_loop_options
from lrsearch.cli import main
from lrsearch.config import parse_spec
from lrsearch.errors import TaskError
from lrsearch.space import SearchSpace
from lrsearch.training import NullRecorder, TrialContext, cached, clear_cache, run_train_function
from tests.conftest import ROOT, digits_spec, run_cli, write_spec

TRAIN = "examples.digits_options_loop:train"
MODEL = "examples.digits_options_loop:build_model"


def _spec(name: str = "own", **task: Any) -> dict[str, Any]:
    spec = digits_spec(name, budget={"trials": 2, "epochs": 2})
    spec["sampler"] = {"name": "random", "seed": 0}
    spec["pruner"] = {"name": "none"}
    spec["task"] = {"train": TRAIN, "device": "cpu", "threads": 1, **task}
    spec["groups"][1]["freeze_epochs"] = 1
    return spec


def _context(options: dict[str, Any]) -> TrialContext:
    config = SearchSpace(parse_spec(_spec())).sample(optuna.create_study().ask())
    return TrialContext(config=config, objective="val_accuracy", recorder=NullRecorder(), options=options)


def test_options_are_passed_as_keyword_arguments() -> None:
    torch.set_num_threads(1)
    metrics = run_train_function(_context({"width": 8, "n_train": 200}), own_loop_options.train)
    assert (metrics["width"], metrics["n_train"]) == (8.0, 200.0)


def test_an_option_the_function_does_not_take_is_an_error_before_training() -> None:
    with pytest.raises(TaskError, match=r"task.train train does not accept task.options depth; it accepts: width "
                                        r"\(default 16\), n_train \(default 1000\)"):
        run_train_function(_context({"depth": 3}), own_loop_options.train)

    def needs(ctx: TrialContext, *, rows: int) -> None: ...
    with pytest.raises(TaskError, match="needs task.options rows"):
        run_train_function(_context({}), needs)


def test_cache_builds_once_per_key() -> None:
    clear_cache()
    built: list[int] = []
    first = cached(("data", 1), lambda: built.append(1) or [1, 2])
    assert cached(("data", 1), lambda: built.append(2) or [3]) is first
    assert cached(("data", 2), lambda: built.append(3) or [4]) == [4]
    assert built == [1, 3]
    with pytest.raises(TypeError, match="the key must be hashable"):
        cached(["unhashable"], list)


@pytest.mark.slow
def test_a_study_loads_cached_data_once_per_worker_and_uses_the_options(tmp_path: Path) -> None:
    path = write_spec(tmp_path, _spec(options={"width": 8, "n_train": 200}))
    proc = run_cli("run", str(path), "--quiet", "--no-confirm", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    logs = sorted((tmp_path / "lrsearch-logs").rglob("*.log"))
    assert len(logs) == 2
    loads = [line for log in logs for line in log.read_text().splitlines() if line.startswith("loading digits")]
    assert len(loads) == 1 and "n_train=200" in loads[0]  # two trials, one worker process: loaded once
    study = optuna.load_study(study_name="own", storage=f"sqlite:///{tmp_path / 'lrsearch.db'}")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 2


@pytest.mark.slow
def test_validate_model_checks_an_own_loop_s_groups_before_any_trial(tmp_path: Path, capsys: Any) -> None:
    assert main(["validate", "--model", str(write_spec(tmp_path, _spec(model=MODEL, options={"width": 8})))]) == 0
    out = capsys.readouterr().out
    assert f"  groups cover the model of task.model {MODEL} exactly once:" in out
    assert "head.weight" in out and "body.0.weight" in out

    wrong = _spec(model=MODEL)
    wrong["groups"][0]["params"] = ["classifier.*"]
    path = write_spec(tmp_path, wrong, "wrong.yaml")
    assert main(["validate", "--model", str(path)]) == 2
    assert f"groups do not fit the model of task.model {MODEL}" in capsys.readouterr().err
    proc = run_cli("run", str(path), "--quiet", cwd=ROOT)  # a run checks them too, before its first trial
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"groups do not fit the model of task.model {MODEL}" in proc.stderr and "classifier.*" in proc.stderr
    assert not (tmp_path / "lrsearch.db").exists()  # nothing was stored: no trial paid for the mistake


def test_validate_names_an_option_the_train_function_does_not_take(tmp_path: Path, capsys: Any) -> None:
    assert main(["validate", str(write_spec(tmp_path, _spec(options={"widht": 8})))]) == 2
    err = capsys.readouterr().err
    assert "task.train train does not accept task.options widht; it accepts: width (default 16)" in err


def test_model_is_only_for_own_loops() -> None:
    from lrsearch.errors import SpecError

    data = copy.deepcopy(digits_spec("m"))
    data["task"]["model"] = MODEL
    with pytest.raises(SpecError, match="model .* is for own loops \\(task.train\\)"):
        parse_spec(data)


def two_models() -> dict[str, torch.nn.Module]:
    """task.model for a study with two optimizers: a module per optimizer."""
    return {"generator": torch.nn.Linear(4, 8), "critic": torch.nn.Sequential(torch.nn.Linear(8, 1))}


def test_task_model_gives_a_module_per_optimizer() -> None:
    from lrsearch.api import preflight
    from lrsearch.errors import GroupError

    spec = {
        "name": "gan", "budget": {"trials": 1, "epochs": 2},
        "task": {"train": TRAIN, "model": "tests.training.test_own_loop_options:two_models"},
        "optimizers": {
            "generator": {"name": "adam", "groups": [{"name": "g", "params": ["weight", "bias"], "lr": 1e-3}]},
            "critic": {"name": "rmsprop", "groups": [{"name": "c", "params": ["0.*"], "lr": 1e-3}]},
        },
    }
    models = preflight(parse_spec(spec))
    assert set(models) == {"generator", "critic"}
    spec["optimizers"]["critic"]["groups"][0]["params"] = ["weight"]
    with pytest.raises(GroupError, match=r"task.model tests.training.test_own_loop_options:two_models "
                                         r"\(optimizer 'critic'\)"):
        preflight(parse_spec(spec))
