"""Keras models trained by lrsearch: the managed loop, an own loop, and the shipped study through the CLI."""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from lrsearch.keras import named_parameters
from lrsearch.schedules import lr_factor
from lrsearch.tasks import Task, load_task
from lrsearch.training import NullRecorder, TrialContext, managed_train, run_train_function
from lrsearch.trial_config import GroupConfig, OptimizerConfig, ScheduleConfig, TrialConfig
from tests.conftest import ROOT, run_cli
from tests.keras.models import subclassed_model

BATCH = 20
EPOCHS = 3
STUDY = ROOT / "studies" / "keras_transfer.yaml"


def transfer_config(head: str, backbone: str, freeze: int = 2) -> TrialConfig:
    """SGD, a cosine head with warmup and a linear-decay backbone frozen for its first ``freeze`` epochs."""
    groups = [
        GroupConfig("head", 0.05, params=[head], momentum=0.9, weight_decay=1e-4,
                    schedule=ScheduleConfig("cosine", warmup=0.2)),
        GroupConfig("backbone", 0.02, params=[backbone], momentum=0.8, weight_decay=1e-4, freeze_epochs=freeze,
                    schedule=ScheduleConfig("linear", params={"end_factor": 0.1})),
    ]
    return TrialConfig(EPOCHS, seed=7, optimizers=[OptimizerConfig("main", "sgd", weight_decay_exclude=["bias", "norm"],
                                                                   groups=groups)])


class Snapshots(NullRecorder):
    """Also keeps every named parameter of the trial's model as it was when each epoch was recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.models: list[Any] = []
        self.weights: list[dict[str, torch.Tensor]] = []

    def record(self, *args: Any, **kwargs: Any) -> None:
        super().record(*args, **kwargs)
        self.weights.append({n: p.detach().clone() for n, p in named_parameters(self.models[-1])})


def train(task: Task, config: TrialConfig) -> Snapshots:
    recorder = Snapshots()

    def build() -> Any:
        recorder.models.append(task.build_model())
        recorder.weights.append({n: p.detach().clone() for n, p in named_parameters(recorder.models[-1])})
        return recorder.models[-1]

    ctx = TrialContext(config=config, objective="val_accuracy", recorder=recorder, batch_size=BATCH)
    managed_train(ctx, dataclasses.replace(task, build_model=build))
    return recorder


@pytest.fixture(scope="module")
def keras_run(keras_cache_dir: Path) -> Snapshots:
    with pytest.MonkeyPatch.context() as patch:  # module scope: the autouse fixture has not run yet
        patch.setenv("LRSEARCH_CACHE_DIR", str(keras_cache_dir))
        task = load_task("keras-digits-transfer", options={"labels_per_class": 20})
        return train(task, transfer_config("head/*", "backbone/*"))


def assert_lrs_follow_the_schedule(epochs: list[dict[str, Any]], config: TrialConfig, steps_per_epoch: int) -> None:
    groups = {g.name: g for g in config.groups()}
    for row in epochs:
        assert row["step"] == row["epoch"] * steps_per_epoch
        for group in row["groups"]:
            spec = groups[group["group_name"].removesuffix(".no_decay")]
            step = row["epoch"] * steps_per_epoch  # the values the optimizer holds after the epoch's last step
            expected = spec.lr * lr_factor(spec.schedule, step, steps_per_epoch, config.epochs)
            assert group["lr"] == pytest.approx(expected, rel=1e-12), (row["epoch"], group)


def test_frozen_backbone_is_unchanged_while_frozen_then_trains(keras_run: Snapshots) -> None:
    initial, *after_epoch = keras_run.weights
    backbone = [n for n in initial if n.startswith("backbone/") and n.rsplit("/", 1)[-1] in ("kernel", "gamma", "beta")]
    assert len(backbone) == 6
    for epoch in (0, 1):  # freeze_epochs=2: epochs 1 and 2
        for name in backbone:
            assert torch.equal(after_epoch[epoch][name], initial[name]), (epoch + 1, name)
        assert not torch.equal(after_epoch[epoch]["head/kernel"], initial["head/kernel"])
    assert all(not torch.equal(after_epoch[2][name], initial[name]) for name in backbone)
    frozen = [{g["group_name"]: g["frozen"] for g in row["groups"]} for row in keras_run.epochs]
    assert frozen == [{"head": False, "head.no_decay": False, "backbone.no_decay": f, "backbone": f}
                      for f in (True, True, False)]


def test_backbone_arrives_pretrained_and_dropout_and_batch_norm_ran_in_training_mode(keras_run: Snapshots) -> None:
    task = load_task("keras-digits-transfer", options={"labels_per_class": 20})
    initial = keras_run.weights[0]
    with __import__("numpy").load(task.info["pretrain"]["path"]) as cached:
        assert torch.equal(initial["backbone/conv1/kernel"], torch.from_numpy(cached["w0"]))
    # The frozen backbone's BatchNormalization statistics still moved: batches ran with training=True.
    assert not torch.equal(keras_run.weights[1]["backbone/bn1/moving_mean"], initial["backbone/bn1/moving_mean"])
    assert task.info["pretrain"]["val_accuracy"] > 0.9


def test_recorded_per_group_lrs_equal_the_schedule(keras_run: Snapshots) -> None:
    assert [row["epoch"] for row in keras_run.epochs] == [1, 2, 3]
    assert_lrs_follow_the_schedule(keras_run.epochs, transfer_config("head/*", "backbone/*"), math.ceil(100 / BATCH))


def test_same_curve_rows_as_the_torch_transfer_task(keras_run: Snapshots) -> None:
    """The torch digits-transfer task with the same settings records the same rows, value for value."""
    torch_run = train(load_task("digits-transfer", options={"labels_per_class": 20}),
                      transfer_config("head.*", "backbone.*"))
    assert len(torch_run.epochs) == len(keras_run.epochs)
    for torch_row, keras_row in zip(torch_run.epochs, keras_run.epochs, strict=True):
        assert (torch_row["epoch"], torch_row["step"]) == (keras_row["epoch"], keras_row["step"])
        assert sorted(torch_row["metrics"]) == sorted(keras_row["metrics"]) == ["train_loss", "val_accuracy", "val_loss"]
        assert sorted(torch_row["groups"], key=str) == sorted(keras_row["groups"], key=str)
    assert keras_run.epochs[-1]["metrics"]["val_accuracy"] > 0.8


def test_same_seed_same_keras_trial() -> None:
    task = load_task("keras-digits-transfer", options={"labels_per_class": 20})
    config = dataclasses.replace(transfer_config("head/*", "backbone/*"), epochs=2)
    first, second = (train(task, config).epochs for _ in range(2))
    assert [r["metrics"] for r in first] == [r["metrics"] for r in second]


def test_own_loop_trains_a_subclassed_keras_model_with_frozen_encoder() -> None:
    groups = [
        GroupConfig("encoder", 0.05, params=["encoder/*"], freeze_epochs=2, schedule=ScheduleConfig("cosine")),
        GroupConfig("head", 0.1, params=["head/*"], schedule=ScheduleConfig("constant", warmup=0.5)),
        GroupConfig("rest", 0.02, rest=True, schedule=ScheduleConfig("linear")),
    ]
    config = TrialConfig(EPOCHS, seed=3, optimizers=[OptimizerConfig("main", "adamw", groups=groups)])
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(90, 6, generator=generator)
    y = (x @ torch.randn(6, 3, generator=generator)).argmax(dim=1)
    snapshots: list[dict[str, torch.Tensor]] = []

    def own_loop(ctx: TrialContext) -> None:
        model = subclassed_model()
        snapshots.append({n: p.detach().clone() for n, p in named_parameters(model)})
        optimizer = ctx.optimizer(model)
        scheduler = ctx.scheduler(optimizer, steps_per_epoch=3)
        for epoch in range(1, ctx.epochs + 1):
            ctx.freeze(epoch)
            for batch in torch.arange(90).split(30):
                loss = F.cross_entropy(model(x[batch], training=True), y[batch])  # Keras style: training= given
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
            snapshots.append({n: p.detach().clone() for n, p in named_parameters(model)})
            accuracy = (model(x, training=False).argmax(dim=1) == y).float().mean()
            ctx.report(epoch, {"val_accuracy": float(accuracy)})

    ctx = TrialContext(config=config, objective="val_accuracy")
    run_train_function(ctx, own_loop)
    epochs = ctx.recorder.epochs
    assert [sorted(g["group_name"] for g in row["groups"]) for row in epochs] == [["encoder", "head", "rest"]] * 3
    assert_lrs_follow_the_schedule(epochs, config, steps_per_epoch=3)
    encoder = [n for n in snapshots[0] if n.startswith("encoder/")]
    assert len(encoder) == 4
    for name in encoder:
        assert torch.equal(snapshots[2][name], snapshots[0][name]) and not torch.equal(snapshots[3][name], snapshots[0][name])
    assert not torch.equal(snapshots[1]["decoder/dense/kernel"], snapshots[0]["decoder/dense/kernel"])


def _rows(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def test_validate_model_lists_the_keras_names(capsys: pytest.CaptureFixture[str]) -> None:
    from lrsearch.cli import main

    assert main(["validate", "--model", str(STUDY)]) == 0
    shown = capsys.readouterr().out
    assert "groups cover the model of task keras-digits-transfer exactly once" in shown
    for name in ("head/kernel", "backbone/conv1/kernel", "backbone/bn1/moving_mean", "_torch_params.head/kernel"):
        assert name in shown


@pytest.mark.slow
def test_shipped_study_smoke_runs(tmp_path: Path, keras_cache_dir: Path) -> None:
    env = {"LRSEARCH_CACHE_DIR": str(keras_cache_dir)}
    db = tmp_path / "keras.db"
    run_cli("run", str(STUDY), "--trials", "2", "--storage", f"sqlite:///{db}", "--quiet", cwd=tmp_path, env=env,
            check=True)
    trials = _rows(db, "SELECT trial_number, config FROM lrsearch_trials WHERE study_name='keras-transfer'")
    assert len(trials) == 2
    for number, config_json in trials:
        config = TrialConfig.from_dict(json.loads(config_json))
        rows = _rows(db, "SELECT e.epoch, e.step, e.metrics, g.group_name, g.lr, g.frozen FROM lrsearch_epochs e "
                         "JOIN lrsearch_group_epochs g USING (study_name, trial_number, epoch) "
                         "WHERE e.study_name='keras-transfer' AND e.trial_number=?", number)
        assert rows
        by_epoch: dict[int, dict[str, Any]] = {}
        for epoch, step, metrics, group_name, lr, frozen in rows:
            row = by_epoch.setdefault(epoch, {"epoch": epoch, "step": step, "metrics": json.loads(metrics), "groups": []})
            row["groups"].append({"group_name": group_name, "lr": lr, "frozen": bool(frozen)})
        assert {g["group_name"] for r in by_epoch.values() for g in r["groups"]} == {
            "head", "head.no_decay", "backbone", "backbone.no_decay"}
        assert all(set(r["metrics"]) == {"train_loss", "val_loss", "val_accuracy"} for r in by_epoch.values())
        assert_lrs_follow_the_schedule(list(by_epoch.values()), config, steps_per_epoch=5)
    confirmed = _rows(db, "SELECT state, value FROM lrsearch_confirm WHERE study_name='keras-transfer'")
    assert confirmed and all(state == "COMPLETE" and value > 0.5 for state, value in confirmed)


def test_a_user_entrypoint_task_with_a_subclassed_keras_model() -> None:
    task = load_task(entrypoint="tests.keras.user_task:build", options={"hidden": 32})
    groups = [GroupConfig("body", 0.05, params=["body/*"], momentum=0.9, schedule=ScheduleConfig("cosine")),
              GroupConfig("head", 0.2, params=["head/*"], momentum=0.9, schedule=ScheduleConfig("linear"))]
    config = TrialConfig(EPOCHS, seed=1, optimizers=[OptimizerConfig("main", "sgd", groups=groups)])
    run = train(task, config)
    assert [sorted(g["group_name"] for g in row["groups"]) for row in run.epochs] == [["body", "head"]] * EPOCHS
    assert_lrs_follow_the_schedule(run.epochs, config, steps_per_epoch=math.ceil(1000 / BATCH))
    assert run.epochs[-1]["metrics"]["val_accuracy"] > 0.85
