"""PyTorch Lightning under a trial: the same rows as the managed loop, the schedule applied at every optimizer
step, a checkpoint resume that continues the schedule, pruning, and clear errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pytorch_lightning", reason="needs lrsearch[lightning]")

import optuna  # noqa: E402
import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from lrsearch.errors import TaskError  # noqa: E402
from lrsearch.integrations.lightning import LrsearchCallback, configure_optimizers  # noqa: E402
from lrsearch.space import GroupConfig  # noqa: E402
from lrsearch.tasks import Split  # noqa: E402
from lrsearch.training import NullRecorder, TrialContext, run_train_function  # noqa: E402
from tests.integrations._shared import (  # noqa: E402
    LrLog,
    assert_same_rows,
    config,
    expected_lrs,
    managed_rows,
    moving_schedules,
)

BATCH, TRAIN, VAL, EPOCHS, SPE = 8, 36, 16, 3, 5


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def net() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


def data(n: int, seed: int) -> Split:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    return Split(x, x[:, :3].argmax(dim=1))


def trial(freeze: int = 1):
    s = moving_schedules()
    return config([
        GroupConfig(name="head", lr=0.05, params=["4.*"], momentum=0.9, weight_decay=1e-3, schedule=s["head"]),
        GroupConfig(name="layers", lr=0.02, params=["2.*"], momentum=0.95, weight_decay=1e-3, schedule=s["layers"]),
        GroupConfig(name="first", lr=0.01, rest=True, momentum=0.8, freeze_epochs=freeze, schedule=s["rest"]),
    ], epochs=EPOCHS, name="sgd")


class Classifier(pl.LightningModule):
    def __init__(self, ctx: TrialContext) -> None:
        super().__init__()
        self.ctx, self.net = ctx, net()
        self.lr_log: LrLog | None = None

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        x, y = batch
        out = self.net(x)
        self.log("val_loss", F.cross_entropy(out, y), on_epoch=True)
        self.log("val_accuracy", (out.argmax(dim=1) == y).float().mean(), on_epoch=True)

    def configure_optimizers(self) -> Any:
        entry = configure_optimizers(self.ctx, self, self.net)  # groups name the net's parameters
        self.lr_log = LrLog(entry["optimizer"])
        return entry


def fit(ctx: TrialContext, out: Path, max_epochs: int = EPOCHS, ckpt_path: str | None = None,
        **trainer_kwargs: Any) -> tuple[pl.Trainer, Classifier]:
    torch.manual_seed(ctx.seed)
    module = Classifier(ctx)
    settings: dict[str, Any] = {"accelerator": "cpu", "devices": 1, "logger": False, "enable_checkpointing": False,
                                "enable_progress_bar": False, "enable_model_summary": False, "num_sanity_val_steps": 0,
                                "callbacks": [LrsearchCallback(ctx)]}
    trainer = pl.Trainer(max_epochs=max_epochs, default_root_dir=out, **{**settings, **trainer_kwargs})
    loader = torch.utils.data.DataLoader(data(TRAIN, 0), batch_size=BATCH, shuffle=True)
    trainer.fit(module, loader, torch.utils.data.DataLoader(data(VAL, 1), batch_size=64), ckpt_path=ckpt_path)
    return trainer, module


def test_lightning_records_the_managed_loops_rows_and_applies_the_schedule_every_step(tmp_path: Path) -> None:
    recorder = NullRecorder()
    ctx = TrialContext(config=trial(), objective="val_accuracy", recorder=recorder, batch_size=BATCH)
    trainer, module = fit(ctx, tmp_path)
    assert trainer.global_step == SPE * EPOCHS

    managed = managed_rows(trial(), net, data(TRAIN, 0), data(VAL, 1), BATCH)
    assert_same_rows(recorder.epochs, managed)
    assert [sorted(e["metrics"]) for e in recorder.epochs] == [sorted(e["metrics"]) for e in managed] \
        == [["train_loss", "val_accuracy", "val_loss"]] * EPOCHS
    frozen = [[g["frozen"] for g in e["groups"] if g["group_name"] == "first"] for e in recorder.epochs]
    assert frozen == [[True], [False], [False]]

    assert module.lr_log is not None
    applied, expected = module.lr_log.steps, expected_lrs(trial(), net(), SPE)
    assert len(applied) == len(expected) == SPE * EPOCHS
    for step, (got, want) in enumerate(zip(applied, expected, strict=True)):
        assert got == pytest.approx(want, rel=1e-9), f"step {step}"
    assert len({tuple(lrs) for lrs in applied}) == len(applied), "the lrs move at every step"


def test_a_run_resumed_from_a_lightning_checkpoint_continues_the_schedule(tmp_path: Path) -> None:
    full = TrialContext(config=trial(), objective="val_accuracy", batch_size=BATCH)
    saver = pl.callbacks.ModelCheckpoint(dirpath=tmp_path, save_top_k=-1, every_n_epochs=1, filename="{epoch}")
    _, uninterrupted = fit(full, tmp_path, callbacks=[LrsearchCallback(full), saver], enable_checkpointing=True)
    after_two = tmp_path / "epoch=1.ckpt"
    assert after_two.exists()

    recorder = NullRecorder()  # a new process: a new context for the same trial, a new module and optimizer
    resumed_ctx = TrialContext(config=trial(), objective="val_accuracy", recorder=recorder, batch_size=BATCH)
    trainer, resumed = fit(resumed_ctx, tmp_path / "resumed", ckpt_path=str(after_two))
    assert trainer.global_step == SPE * EPOCHS
    assert uninterrupted.lr_log is not None and resumed.lr_log is not None
    assert resumed.lr_log.steps == uninterrupted.lr_log.steps[2 * SPE:]
    assert [e["epoch"] for e in recorder.epochs] == [3]


class PruneAt(NullRecorder):
    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def should_prune(self, epoch: int, value: float) -> bool:
        return epoch >= self.epoch


def test_pruning_stops_training_and_the_trial_ends_pruned(tmp_path: Path) -> None:
    recorder = PruneAt(2)
    ctx = TrialContext(config=trial(freeze=0), objective="val_accuracy", recorder=recorder, batch_size=BATCH)
    seen: dict[str, Any] = {}

    def train(ctx: TrialContext) -> None:
        torch.manual_seed(ctx.seed)
        seen["module"] = module = Classifier(ctx)
        seen["trainer"] = trainer = pl.Trainer(
            max_epochs=EPOCHS, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
            enable_model_summary=False, num_sanity_val_steps=0, callbacks=[LrsearchCallback(ctx)])
        trainer.fit(module, torch.utils.data.DataLoader(data(TRAIN, 0), batch_size=BATCH),
                    torch.utils.data.DataLoader(data(VAL, 1), batch_size=64))
        seen["returned"] = True

    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 2"):
        run_train_function(ctx, train)
    assert "returned" not in seen, "fit raised"
    assert seen["trainer"].global_step == 2 * SPE == len(seen["module"].lr_log.steps), "stopped after epoch 2"
    assert [e["epoch"] for e in recorder.epochs] == [1, 2]


def test_a_trainer_that_trains_otherwise_than_the_trial_is_refused(tmp_path: Path) -> None:
    ctx = TrialContext(config=trial(), objective="val_accuracy", batch_size=BATCH)
    with pytest.raises(TaskError, match=r"max_epochs=2, the trial trains for 3 epochs \(budget.epochs\)"):
        fit(ctx, tmp_path, max_epochs=2)
    ctx = TrialContext(config=trial(), objective="val_accuracy", batch_size=BATCH)
    with pytest.raises(TaskError, match="max_steps=7: a trial trains for whole epochs"):
        fit(ctx, tmp_path, max_steps=7)
