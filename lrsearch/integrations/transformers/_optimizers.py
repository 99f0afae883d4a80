"""The trial's optimizer and scheduler for ``Trainer(optimizers=...)``, and ``TrainingArguments`` from ctx."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from lrsearch.errors import TaskError

if TYPE_CHECKING:
    import torch
    from torch import nn
    from transformers import TrainingArguments

    from lrsearch.training import TrialContext


def trainer_args(ctx: TrialContext, output_dir: str, **overrides: Any) -> TrainingArguments:
    """``TrainingArguments`` that train as the trial says: ``ctx.epochs`` epochs of ``ctx.batch_size`` batches,
    seeded with ``ctx.seed``, on ``ctx.device``'s kind, evaluated and logged once an epoch, no checkpoints,
    no trackers, no progress bars. ``overrides`` go to ``TrainingArguments`` as they are.
    """
    from transformers import TrainingArguments

    settings: dict[str, Any] = {
        "output_dir": output_dir,
        "num_train_epochs": ctx.epochs,
        "per_device_train_batch_size": ctx.batch_size,
        "per_device_eval_batch_size": max(ctx.batch_size, 256),
        "eval_strategy": "epoch",
        "logging_strategy": "epoch",
        "save_strategy": "no",
        "seed": ctx.seed,
        "use_cpu": ctx.device.type == "cpu",
        "report_to": "none",
        "disable_tqdm": True,
    }
    settings.update(overrides)
    return TrainingArguments(**settings)


def steps_per_epoch(args: TrainingArguments, train_dataset: Any) -> int:
    """Optimizer steps a ``Trainer`` makes in one epoch over ``train_dataset``, computed as the Trainer does
    (batches of ``train_batch_size`` on every process, then gradient accumulation, a partial one at the end)."""
    try:
        examples = len(train_dataset)
    except TypeError:
        raise TaskError("trial_optimizers needs a train_dataset with a length, to know the steps of an epoch; "
                        "for an iterable dataset pass steps_per_epoch=") from None
    per_batch = args.train_batch_size * max(1, args.world_size)
    batches = examples // per_batch if args.dataloader_drop_last else math.ceil(examples / per_batch)
    return max(1, math.ceil(batches / args.gradient_accumulation_steps))


def trial_optimizers(ctx: TrialContext, model: nn.Module, args: TrainingArguments, train_dataset: Any = None,
                     *, key: str | None = None, steps: int | None = None
                     ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """``(optimizer, scheduler)`` for ``Trainer(optimizers=...)``: the trial's groups over ``model`` and their
    per-group schedules over ``args``' epochs.

    Args:
        key: The optimizer's name in a study with several (``optimizers:`` in the spec).
        steps: Optimizer steps an epoch, when ``train_dataset`` has no length; else computed from it.

    Raises:
        TaskError: ``args`` trains for another number of epochs than the trial, or by ``max_steps``, or does
            not evaluate once an epoch.
    """
    check_args(ctx, args)
    if steps is None:
        steps = steps_per_epoch(args, train_dataset)
    optimizer = ctx.optimizer(model) if key is None else ctx.optimizer(key, model)
    return optimizer, ctx.scheduler(optimizer, steps_per_epoch=steps)


def check_args(ctx: TrialContext, args: TrainingArguments) -> None:
    """``TaskError`` unless ``args`` trains ``ctx.epochs`` whole epochs and evaluates at the end of each."""
    strategy = str(getattr(args.eval_strategy, "value", args.eval_strategy))
    if strategy != "epoch":
        raise TaskError(f"TrainingArguments.eval_strategy is {strategy!r}: lrsearch reports once an epoch, so set "
                        "eval_strategy='epoch' (and give the Trainer an eval_dataset)")
    if args.max_steps is not None and args.max_steps > 0:
        raise TaskError(f"TrainingArguments.max_steps is {args.max_steps}: a trial trains for whole epochs; leave "
                        f"max_steps unset and set num_train_epochs={ctx.epochs} (budget.epochs)")
    if args.num_train_epochs != ctx.epochs:
        raise TaskError(f"TrainingArguments.num_train_epochs is {args.num_train_epochs:g}, the trial trains for "
                        f"{ctx.epochs} epochs (budget.epochs): set num_train_epochs=ctx.epochs, or use "
                        "lrsearch.integrations.transformers.trainer_args(ctx, ...)")
