"""Hugging Face Trainer (with accelerate) under a trial: the same rows as the managed loop, the schedule applied
at every optimizer step, freezing, pruning, and clear errors when the Trainer does not train as the trial says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

transformers = pytest.importorskip("transformers", reason="needs lrsearch[transformers]")
pytest.importorskip("accelerate", reason="needs lrsearch[transformers]")

import optuna  # noqa: E402
import torch  # noqa: E402
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainerCallback  # noqa: E402

from lrsearch.errors import TaskError  # noqa: E402
from lrsearch.integrations.transformers import (  # noqa: E402
    LrsearchCallback,
    steps_per_epoch,
    trainer_args,
    trial_optimizers,
)
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

BATCH, TRAIN, VAL, EPOCHS = 8, 36, 16, 3  # 5 steps an epoch, the last batch partial
SPE = 5


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


BERT = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                  max_position_embeddings=16, num_labels=2)


class LogitsOnly(BertForSequenceClassification):
    """The same model for the managed loop, which calls ``model(x)`` and wants the logits."""

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(input_ids=input_ids).logits


def data(n: int, seed: int) -> Split:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 40, (n, 8), generator=g)
    return Split(ids, (ids[:, 0] > 20).long())  # learnable: the label is in the first token


class Dicts(torch.utils.data.Dataset):
    """A Split as the Trainer wants it: a dict of model inputs per example."""

    def __init__(self, split: Split) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.split.x[i], "labels": self.split.y[i]}


def accuracy(prediction: transformers.EvalPrediction) -> dict[str, float]:
    return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}


def trial(freeze: int = 1, epochs: int = EPOCHS):
    s = moving_schedules()
    return config([
        GroupConfig(name="head", lr=3e-3, params=["classifier.*", "bert.pooler.*"], betas=(0.9, 0.99),
                    weight_decay=0.01, schedule=s["head"]),
        GroupConfig(name="layers", lr=2e-3, layerwise=r"bert\.encoder\.layer\.(\d+)\..*", layer_decay=0.5,
                    weight_decay=0.01, schedule=s["layers"]),
        GroupConfig(name="embeddings", lr=1e-3, rest=True, freeze_epochs=freeze, schedule=s["rest"]),
    ], epochs=epochs)


def hf_train(ctx: TrialContext, out: Path, log: list[LrLog] | None = None, **arg_overrides: object) -> Trainer:
    torch.manual_seed(ctx.seed)
    model = BertForSequenceClassification(BERT)
    args = trainer_args(ctx, output_dir=str(out), **arg_overrides)
    train_ds = Dicts(data(TRAIN, 0))
    optimizer, scheduler = trial_optimizers(ctx, model, args, train_ds)
    if log is not None:
        log.append(LrLog(optimizer))
    trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=Dicts(data(VAL, 1)),
                      compute_metrics=accuracy, optimizers=(optimizer, scheduler), callbacks=[LrsearchCallback(ctx)])
    trainer.train()
    return trainer


def test_trainer_records_the_managed_loops_rows_and_applies_the_schedule_every_step(tmp_path: Path) -> None:
    recorder = NullRecorder()
    ctx = TrialContext(config=trial(), objective="val_accuracy", recorder=recorder, batch_size=BATCH)
    log: list[LrLog] = []
    trainer = hf_train(ctx, tmp_path, log)
    assert trainer.state.global_step == SPE * EPOCHS

    managed = managed_rows(trial(), lambda: LogitsOnly(BERT), data(TRAIN, 0), data(VAL, 1), BATCH)
    assert_same_rows(recorder.epochs, managed)
    assert [sorted(e["metrics"]) for e in recorder.epochs] == [sorted(e["metrics"]) for e in managed] \
        == [["train_loss", "val_accuracy", "val_loss"]] * EPOCHS
    frozen = [[g["frozen"] for g in e["groups"] if g["group_name"] == "embeddings"] for e in recorder.epochs]
    assert frozen == [[True], [False], [False]]

    # What each optimizer step used: accelerate swapped the optimizer's param-group dicts when it prepared it.
    applied = log[0].steps
    expected = expected_lrs(trial(), BertForSequenceClassification(BERT), SPE)
    assert len(applied) == len(expected) == SPE * EPOCHS
    for step, (got, want) in enumerate(zip(applied, expected, strict=True)):
        assert got == pytest.approx(want, rel=1e-9), f"step {step}"
    assert len({tuple(lrs) for lrs in applied}) == len(applied), "the lrs move at every step"


class PruneAt(NullRecorder):
    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def should_prune(self, epoch: int, value: float) -> bool:
        return epoch >= self.epoch


class Ends(TrainerCallback):
    def __init__(self) -> None:
        self.ended = False

    def on_train_end(self, args, state, control, **kwargs) -> None:  # noqa: ANN001
        self.ended = True


def test_pruning_stops_training_and_the_trial_ends_pruned(tmp_path: Path) -> None:
    recorder = PruneAt(2)
    ctx = TrialContext(config=trial(freeze=0), objective="val_accuracy", recorder=recorder, batch_size=BATCH)
    seen: dict[str, object] = {}

    def train(ctx: TrialContext) -> None:
        torch.manual_seed(ctx.seed)
        model = BertForSequenceClassification(BERT)
        args = trainer_args(ctx, output_dir=str(tmp_path))
        train_ds = Dicts(data(TRAIN, 0))
        ends = Ends()
        trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=Dicts(data(VAL, 1)),
                          compute_metrics=accuracy, optimizers=trial_optimizers(ctx, model, args, train_ds),
                          callbacks=[ends, LrsearchCallback(ctx)])
        seen.update(trainer=trainer, ends=ends)
        try:
            trainer.train()
        except optuna.TrialPruned:
            seen["raised"] = True
            raise

    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 2"):
        run_train_function(ctx, train)
    assert seen["raised"] and seen["ends"].ended, "train() raised after every earlier callback's on_train_end"
    assert seen["trainer"].state.global_step == 2 * SPE, "stopped at the end of the pruned epoch"
    assert [e["epoch"] for e in recorder.epochs] == [1, 2]


def test_steps_per_epoch_follows_the_trainers_arithmetic(tmp_path: Path) -> None:
    ctx = TrialContext(config=trial(), objective="val_accuracy", batch_size=BATCH)
    assert steps_per_epoch(trainer_args(ctx, str(tmp_path)), range(36)) == 5
    assert steps_per_epoch(trainer_args(ctx, str(tmp_path), dataloader_drop_last=True), range(36)) == 4
    assert steps_per_epoch(trainer_args(ctx, str(tmp_path), gradient_accumulation_steps=2), range(36)) == 3


def test_gradient_accumulation_trains_the_schedule_over_optimizer_steps(tmp_path: Path) -> None:
    ctx = TrialContext(config=trial(epochs=2), objective="val_accuracy", batch_size=BATCH)
    log: list[LrLog] = []
    trainer = hf_train(ctx, tmp_path, log, gradient_accumulation_steps=2)
    assert trainer.state.global_step == 3 * 2 == len(log[0].steps)
    expected = expected_lrs(trial(epochs=2), BertForSequenceClassification(BERT), 3)
    assert log[0].steps == [pytest.approx(lrs, rel=1e-9) for lrs in expected]


@pytest.mark.parametrize(("overrides", "message"), [
    ({"num_train_epochs": 2}, "num_train_epochs is 2, the trial trains for 3 epochs"),
    ({"max_steps": 4}, "max_steps is 4: a trial trains for whole epochs"),
])
def test_a_trainer_that_trains_otherwise_than_the_trial_is_refused(tmp_path: Path, overrides: dict,
                                                                  message: str) -> None:
    ctx = TrialContext(config=trial(), objective="val_accuracy", batch_size=BATCH)
    with pytest.raises(TaskError, match=message):
        hf_train(ctx, tmp_path, **overrides)


def test_a_schedule_built_for_other_steps_is_refused_before_any_step(tmp_path: Path) -> None:
    ctx = TrialContext(config=trial(), objective="val_accuracy", batch_size=BATCH)
    model = BertForSequenceClassification(BERT)
    args = trainer_args(ctx, output_dir=str(tmp_path))
    train_ds = Dicts(data(TRAIN, 0))
    optimizers = trial_optimizers(ctx, model, args, train_ds, steps=4)  # the Trainer makes 5 an epoch
    log = LrLog(optimizers[0])
    trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=Dicts(data(VAL, 1)),
                      optimizers=optimizers, callbacks=[LrsearchCallback(ctx)])
    with pytest.raises(TaskError, match=r"optimizer 'main' was built for 12 steps \(4 an epoch\), the Trainer "
                                        r"makes 15: build it with trial_optimizers"):
        trainer.train()
    assert log.steps == []


def test_evaluation_other_than_once_an_epoch_is_refused(tmp_path: Path) -> None:
    ctx = TrialContext(config=trial(), objective="val_accuracy", batch_size=BATCH)
    with pytest.raises(TaskError, match="eval_strategy is 'steps': lrsearch reports once an epoch"):
        hf_train(ctx, tmp_path, eval_strategy="steps", eval_steps=2)
