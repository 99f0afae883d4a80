"""A Lightning ``Callback`` that freezes groups at epoch starts, reports each epoch and stops when pruned."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import optuna

from lrsearch.errors import TaskError
from lrsearch.integrations._common import numeric_metrics
from lrsearch.integrations.lightning._framework import pl

if TYPE_CHECKING:
    from lrsearch.training import TrialContext


class LrsearchCallback(pl.Callback):
    """Drives a trial from inside ``Trainer.fit``.

    - Training epoch starts: ``ctx.freeze(epoch)`` (Lightning counts epochs from 0, ``ctx`` from 1).
    - Training epoch ends (validation has run by then): ``ctx.report(epoch, metrics)`` with every scalar in
      ``trainer.callback_metrics``, the names you ``self.log``: log the objective (``val_accuracy``) and
      ``train_loss`` with ``on_epoch=True``.
    - Pruned: ``trainer.should_stop`` ends training after that epoch, and ``fit`` raises ``optuna.TrialPruned``
      when it is done (teardown and ``on_fit_end`` of earlier callbacks included); lrsearch marks the trial
      pruned.

    Args:
        ctx: The trial's context.
        rename: Metric-name prefixes to replace, e.g. ``{"valid/": "val_"}``.
        freeze_bn_stats: Also keep the running statistics of frozen groups' norm layers still.
    """

    def __init__(self, ctx: TrialContext, *, rename: Mapping[str, str] | None = None,
                 freeze_bn_stats: bool = False) -> None:
        self.ctx = ctx
        self.rename = dict(rename or {})
        self.freeze_bn_stats = freeze_bn_stats

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.max_epochs != self.ctx.epochs:
            raise TaskError(f"the Lightning Trainer has max_epochs={trainer.max_epochs}, the trial trains for "
                            f"{self.ctx.epochs} epochs (budget.epochs): use Trainer(max_epochs=ctx.epochs)")
        for key, scheduler in self.ctx.schedulers.items():
            if scheduler.total_steps != trainer.estimated_stepping_batches:
                raise TaskError(
                    f"the schedule of optimizer {key!r} was built for {scheduler.total_steps} steps, the Trainer "
                    f"makes {trainer.estimated_stepping_batches}: build it with "
                    "lrsearch.integrations.lightning.configure_optimizers(ctx, self)")

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.ctx.freeze(trainer.current_epoch + 1, freeze_bn_stats=self.freeze_bn_stats)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.ctx.pruned:
            return
        metrics = numeric_metrics(trainer.callback_metrics, self.rename)
        try:
            self.ctx.report(trainer.current_epoch + 1, metrics)
        except optuna.TrialPruned:
            trainer.should_stop = True

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.ctx.raise_if_pruned()
