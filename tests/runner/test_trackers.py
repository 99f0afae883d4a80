"""Trackers and stock tools: a real ``lrsearch run`` with MLflow (a local SQLite store) and TensorBoard, read back
with their own readers, and the Optuna study as plain Optuna sees it. The study uses a third-party optimizer
(lion-pytorch's Lion) named by import path."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path
from typing import Any

import optuna
import pytest

from tests.conftest import ROOT, digits_spec, run_cli, write_spec

pytest.importorskip("mlflow", reason="needs lrsearch[mlflow]")
pytest.importorskip("tensorboard", reason="needs lrsearch[tensorboard]")
pytest.importorskip("lion_pytorch", reason="the third-party optimizer of these tests (lion-pytorch)")


def _spec(name: str, trackers: list[Any]) -> dict[str, Any]:
    spec = digits_spec(name, budget={"trials": 2, "epochs": 2}, trackers=trackers)
    spec["sampler"] = {"name": "random", "seed": 3}
    spec["pruner"] = {"name": "none"}
    spec["optimizer"] = {"name": "lion_pytorch:Lion", "weight_decay_exclude": ["bias"]}
    spec["groups"][1].pop("momentum")
    spec["groups"][1]["beta1"] = {"low": 0.85, "high": 0.95}
    spec["groups"][0]["lr"] = {"low": 1e-4, "high": 1e-3, "log": True}
    spec["groups"][1]["freeze_epochs"] = 1  # so the frozen column moves too
    spec["schedule"] = {"shape": "cosine", "warmup": 0.25}
    return spec


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("tracked")
    path = write_spec(directory, _spec("tracked", [
        {"name": "mlflow", "options": {"tracking_uri": "sqlite:///mlflow.db"}},  # relative to the study file
        "tensorboard",
    ]))
    proc = run_cli("run", str(path), "--quiet", "--no-confirm", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    db = directory / "lrsearch.db"
    with sqlite3.connect(db) as conn:
        epochs = conn.execute("SELECT trial_number, epoch, metrics FROM lrsearch_epochs ORDER BY trial_number, epoch").fetchall()
        groups = conn.execute("SELECT trial_number, epoch, group_name, lr, momentum, weight_decay, frozen "
                              "FROM lrsearch_group_epochs ORDER BY trial_number, epoch, id").fetchall()
    return {"dir": directory, "db": db, "proc": proc, "epochs": epochs, "groups": groups}


def _expected(study: dict[str, Any]) -> dict[int, dict[str, list[tuple[int, float]]]]:
    """lrsearch's own rows, as each tracker should show them: trial -> metric -> [(epoch, value)]."""
    out: dict[int, dict[str, list[tuple[int, float]]]] = {}
    for trial, epoch, metrics in study["epochs"]:
        for key, value in json.loads(metrics).items():
            out.setdefault(trial, {}).setdefault(key, []).append((epoch, value))
    for trial, epoch, group, lr, momentum, weight_decay, frozen in study["groups"]:
        series = out.setdefault(trial, {})
        series.setdefault(f"lr/{group}", []).append((epoch, lr))
        series.setdefault(f"momentum/{group}", []).append((epoch, momentum))
        series.setdefault(f"weight_decay/{group}", []).append((epoch, weight_decay))
        series.setdefault(f"frozen/{group}", []).append((epoch, float(frozen)))
    return out


@pytest.mark.slow
def test_mlflow_has_a_run_per_trial_nested_under_the_study_run(study: dict[str, Any]) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{study['dir'] / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("tracked")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("lrsearch.role") == "study"]
    trials = {int(r.data.tags["lrsearch.trial"]): r for r in runs if r.data.tags.get("lrsearch.role") == "trial"}
    assert len(parents) == 1 and parents[0].info.run_name == "tracked"
    assert sorted(trials) == [0, 1]
    stored = optuna.load_study(study_name="tracked", storage=f"sqlite:///{study['db']}")
    expected = _expected(study)
    for trial in stored.trials:
        run = trials[trial.number]
        assert run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert run.info.status == "FINISHED" and run.data.tags["lrsearch.state"] == "COMPLETE"
        params = {**trial.params, **trial.user_attrs}
        assert run.data.params == {k: str(v) for k, v in params.items()}
        assert set(run.data.metrics) == set(expected[trial.number])
        for key, series in expected[trial.number].items():
            history = [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)]
            assert sorted(history) == series, key


@pytest.mark.slow
def test_tensorboard_has_event_files_per_trial_with_the_same_values(study: dict[str, Any]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    expected = _expected(study)
    trial_dirs = sorted((study["dir"] / "runs" / "tracked").iterdir())
    assert [d.name for d in trial_dirs] == ["trial-0", "trial-1"]
    for number, directory in enumerate(trial_dirs):
        events = EventAccumulator(str(directory))
        events.Reload()
        scalars = {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}
        assert set(scalars) == set(expected[number])
        for key, series in expected[number].items():  # event files hold float32
            assert [s for s, _ in scalars[key]] == [s for s, _ in series]
            assert [v for _, v in scalars[key]] == pytest.approx([v for _, v in series], rel=1e-6), key
        assert "_hparams_/session_start_info" in events.summary_metadata


@pytest.mark.slow
def test_the_third_party_optimizer_trained_with_its_own_default_betas(study: dict[str, Any]) -> None:
    with sqlite3.connect(study["db"]) as conn:
        configs = [json.loads(c) for (c,) in conn.execute("SELECT config FROM lrsearch_trials ORDER BY trial_number")]
    for config in configs:
        opt = config["optimizers"][0]
        assert opt["name"] == "lion_pytorch:Lion"
        head = next(g for g in opt["groups"] if g["name"] == "head")
        assert head["betas"] == [0.9, 0.99]  # Lion's own default, not Adam's (0.9, 0.999)
    # the warmup-then-cosine lr moved, and the head's beta1 is the momentum column
    head_lrs = [lr for trial, _, group, lr, *_ in study["groups"] if group == "head" and trial == 0]
    assert head_lrs[0] != head_lrs[1]


@pytest.mark.slow
def test_stock_optuna_sees_metric_names_and_resolved_lrs(study: dict[str, Any]) -> None:
    stored = optuna.load_study(study_name="tracked", storage=f"sqlite:///{study['db']}")
    assert stored.metric_names == ["val_accuracy"]
    frame = stored.trials_dataframe()
    assert {"value_val_accuracy", "user_attrs_lr.head", "user_attrs_lr.backbone", "user_attrs_seed"} <= set(frame.columns)
    for trial in stored.trials:
        attrs = trial.user_attrs
        assert attrs["seed"] == trial.number and attrs["epochs"] == 2
        assert attrs["lr.head"] == trial.params["head.lr"]
        assert attrs["lr.backbone"] == pytest.approx(trial.params["head.lr"] * trial.params["backbone.lr_ratio"])


@pytest.mark.slow
def test_load_study_gives_the_spec_s_sampler_and_pruner(study: dict[str, Any]) -> None:
    import lrsearch

    loaded = lrsearch.load_study(f"sqlite:///{study['db']}", "tracked")
    assert isinstance(loaded.sampler, optuna.samplers.RandomSampler)
    assert isinstance(loaded.pruner, optuna.pruners.NopPruner)
    assert len(loaded.trials) == 2
    with pytest.raises(lrsearch.errors.LrsearchError, match="no lrsearch study 'nope'.*studies here: tracked"):
        lrsearch.load_study(f"sqlite:///{study['db']}", "nope")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_trackers_that_cannot_be_reached_warn_and_trials_complete(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the event files' directory should be\n")
    spec = _spec("unreachable", [
        {"name": "mlflow", "options": {"tracking_uri": f"http://127.0.0.1:{_closed_port()}", "timeout": 2}},
        {"name": "tensorboard", "options": {"log_dir": str(blocker / "runs")}},
    ])
    spec["budget"] = {"trials": 1, "epochs": 1}
    spec["groups"][1]["freeze_epochs"] = 0
    proc = run_cli("run", str(write_spec(tmp_path, spec)), "--no-confirm", cwd=ROOT,
                   env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
    assert proc.returncode == 0, proc.stderr
    assert "1/1 finished (1 complete, 0 pruned, 0 failed" in proc.stderr
    log = "\n".join(p.read_text() for p in (tmp_path / "lrsearch-logs").rglob("*.log")) + proc.stderr
    assert "tracker mlflow: starting trial 0 failed" in log
    assert "tracker tensorboard: starting trial 0 failed" in log
    assert "the trial goes on without it" in log


def test_a_trial_that_carries_user_attrs_already_gets_its_own(tmp_path: Path) -> None:
    """Optuna's retry callback copies a failed trial's user attributes to its retry: the retry's seed and lrs
    replace them, and the trial runs."""
    from lrsearch.config import load_spec
    from lrsearch.runner import open_study, run_here

    spec = digits_spec("retried", budget={"trials": 1, "epochs": 1})
    spec["groups"] = [{"name": "all", "rest": True, "lr": {"low": 0.01, "high": 0.1}}]
    spec.pop("schedule")
    loaded = load_spec(write_spec(tmp_path, spec))
    handle = open_study(loaded, loaded.storage)
    handle.study.enqueue_trial({"opt.name": "sgd", "all.lr": 0.05}, user_attrs={"seed": 99, "lr.all": 1.0, "note": "x"})
    summary = run_here(handle, trials=1, progress=None)
    assert summary.count("COMPLETE") == 1
    [trial] = optuna.load_study(study_name="retried", storage=loaded.storage).trials
    assert trial.user_attrs == {"seed": 0, "epochs": 1, "lr.all": 0.05, "note": "x"}
