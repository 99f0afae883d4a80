"""A ``TrainerCallback`` that freezes groups at epoch starts, reports each evaluation and stops when pruned."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import optuna
from transformers import TrainerCallback

from lrsearch.errors import TaskError
from lrsearch.integrations._common import numeric_metrics, same_epoch
from lrsearch.integrations.transformers._optimizers import check_args

if TYPE_CHECKING:
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from lrsearch.training import TrialContext


class LrsearchCallback(TrainerCallback):
    """Drives a trial from inside ``Trainer.train()``.

    - Epoch starts: ``ctx.freeze(epoch)``, so groups with ``freeze_epochs`` stay frozen for their first epochs.
    - Each evaluation during training (``eval_strategy="epoch"``): ``ctx.report(epoch, metrics)`` with the
      Trainer's metrics renamed (``eval_accuracy`` -> ``val_accuracy``) plus the epoch's logged training loss
      as ``train_loss``; timing figures are dropped. Evaluations outside ``train()`` are not reported.
    - Pruned: training stops at that epoch's end and ``train()`` raises ``optuna.TrialPruned`` once the
      Trainer has finished (every callback got ``on_train_end``); lrsearch marks the trial pruned.

    At the start of training it checks that the Trainer runs the trial's epochs, evaluates once an epoch, and
    makes as many optimizer steps as the trial's schedulers were built for; a mismatch is a ``TaskError``.

    Args:
        ctx: The trial's context.
        rename: Metric-name prefixes to replace; ``{}`` keeps the Trainer's names.
        freeze_bn_stats: Also keep the running statistics of frozen groups' norm layers still.
    """

    def __init__(self, ctx: TrialContext, *, rename: Mapping[str, str] | None = None,
                 freeze_bn_stats: bool = False) -> None:
        self.ctx = ctx
        self.rename = {"eval_": "val_"} if rename is None else dict(rename)
        self.freeze_bn_stats = freeze_bn_stats
        self._training = False
        self._train_loss: float | None = None

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       **kwargs: Any) -> None:
        check_args(self.ctx, args)
        for key, scheduler in self.ctx.schedulers.items():
            if scheduler.total_steps != state.max_steps:
                raise TaskError(
                    f"the schedule of optimizer {key!r} was built for {scheduler.total_steps} steps "
                    f"({scheduler.steps_per_epoch} an epoch), the Trainer makes {state.max_steps}: build it with "
                    "trial_optimizers(ctx, model, args, train_dataset), or pass steps= the Trainer's steps an epoch")
        self._training = True

    def on_epoch_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       **kwargs: Any) -> None:
        done = int(state.epoch or 0)  # whole epochs finished: state.epoch is k exactly after epoch k
        self.ctx.freeze(done + 1, freeze_bn_stats=self.freeze_bn_stats)

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        if logs and "loss" in logs:  # with logging_strategy="epoch": the mean training loss of the epoch
            self._train_loss = float(logs["loss"])

    def on_evaluate(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    metrics: dict[str, float] | None = None, **kwargs: Any) -> None:
        if not self._training or self.ctx.pruned:
            return
        epoch = same_epoch(state.epoch or 0.0)
        if epoch is None:
            raise TaskError(f"the Trainer evaluated at epoch {state.epoch:.3f}; lrsearch reports whole epochs: "
                            "set eval_strategy='epoch'")
        if epoch <= self.ctx.last_epoch:  # another evaluate() in the same epoch: the first one counts
            return
        report = numeric_metrics(metrics or {}, self.rename)
        if self._train_loss is not None:
            report.setdefault("train_loss", self._train_loss)
            self._train_loss = None
        try:
            self.ctx.report(epoch, report)
        except optuna.TrialPruned:
            control.should_training_stop = True

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                     **kwargs: Any) -> None:
        self._training = False
        self.ctx.raise_if_pruned()
