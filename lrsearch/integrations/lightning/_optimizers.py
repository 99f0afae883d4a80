"""``configure_optimizers`` for a LightningModule: the trial's optimizers, their schedules stepped per step."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from torch import nn

from lrsearch.errors import TaskError

if TYPE_CHECKING:
    from lrsearch.training import TrialContext


def configure_optimizers(ctx: TrialContext, module: Any, params: nn.Module | Mapping[str, nn.Module] | None = None
                         ) -> dict[str, Any] | list[dict[str, Any]]:
    """What ``LightningModule.configure_optimizers`` returns for this trial::

        def configure_optimizers(self):
            return configure_optimizers(self.ctx, self)

    Args:
        ctx: The trial's context.
        module: The LightningModule, attached to its Trainer (``configure_optimizers`` runs inside ``fit``).
        params: Whose parameters the groups' patterns name: the LightningModule itself by default, a submodule
            (``self.net``: names without the ``net.`` prefix), or one module per optimizer of a study with several
            (``{"generator": self.g, "discriminator": self.d}``), which returns one entry per optimizer.

    Each entry is ``{"optimizer": ..., "lr_scheduler": {"scheduler": ..., "interval": "step"}}``: Lightning steps
    the per-group schedule after every optimizer step, over ``trainer.estimated_stepping_batches`` steps
    (gradient accumulation included).

    Raises:
        TaskError: The Trainer trains for another number of epochs than the trial, or stops at ``max_steps``.
    """
    trainer = module.trainer
    if trainer.max_epochs != ctx.epochs:
        raise TaskError(f"the Lightning Trainer has max_epochs={trainer.max_epochs}, the trial trains for "
                        f"{ctx.epochs} epochs (budget.epochs): use Trainer(max_epochs=ctx.epochs)")
    if trainer.max_steps not in (-1, None):
        raise TaskError(f"the Lightning Trainer has max_steps={trainer.max_steps}: a trial trains for whole epochs; "
                        "leave max_steps unset")
    total = trainer.estimated_stepping_batches
    if not math.isfinite(total) or total % ctx.epochs:
        raise TaskError(f"cannot split the Trainer's {total} optimizer steps into {ctx.epochs} equal epochs: "
                        "the training data needs a length")
    steps = int(total) // ctx.epochs
    targets = {None: params if params is not None else module} if not isinstance(params, Mapping) else dict(params)
    entries = []
    for key, target in targets.items():
        optimizer = ctx.optimizer(target) if key is None else ctx.optimizer(key, target)
        scheduler = ctx.scheduler(optimizer, steps_per_epoch=steps)
        entries.append({"optimizer": optimizer,
                        "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1}})
    return entries[0] if len(entries) == 1 else entries
