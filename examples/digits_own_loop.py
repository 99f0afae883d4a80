"""The managed loop of the ``digits`` task, written as an own training loop with lrsearch's TrialContext.

It does what ``lrsearch.training.managed_train`` does, step for step, so a study that names it
(``task: {train: examples.digits_own_loop:train, options: {width: 16}}``) records the same curve rows as the same
study on ``task: {builtin: digits}``. Start here when your training needs more than the managed loop offers.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from lrsearch import TrialContext
from lrsearch.tasks import load_task


def train(ctx: TrialContext) -> None:
    task = load_task("digits", options=ctx.options)  # task.options of the spec: width, split_seed
    device = ctx.device
    model = task.build_model().to(device)  # lrsearch seeded torch with ctx.seed before calling train
    optimizer = ctx.optimizer(model)  # the sampled groups: lr, momentum/betas, weight decay, frozen epochs
    x, y = task.train.x.to(device), task.train.y.to(device)
    val_x, val_y = task.val.x.to(device), task.val.y.to(device)
    eval_batch = max(ctx.batch_size, 256)
    scheduler = ctx.scheduler(optimizer, steps_per_epoch=math.ceil(len(x) / ctx.batch_size))
    shuffle = torch.Generator().manual_seed(ctx.seed)
    for epoch in range(1, ctx.epochs + 1):
        model.train()
        ctx.freeze(epoch)
        total, count = torch.zeros((), device=device), 0
        order = torch.randperm(len(x), generator=shuffle).to(device)
        for start in range(0, len(x), ctx.batch_size):
            index = order[start:start + ctx.batch_size]
            inputs, targets = x.index_select(0, index), y.index_select(0, index)
            loss = F.cross_entropy(model(inputs), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()  # per-group schedules move every batch
            total += loss.detach() * len(targets)
            count += len(targets)
            ctx.check_deadline()  # budget.trial_timeout
        model.eval()
        with torch.no_grad():
            outputs = torch.cat([model(val_x[i:i + eval_batch]) for i in range(0, len(val_x), eval_batch)])
        ctx.report(epoch, {  # records the curve rows; raises optuna.TrialPruned when the pruner says so
            "train_loss": float(total) / count,
            "val_loss": float(F.cross_entropy(outputs, val_y)),
            "val_accuracy": (outputs.argmax(dim=1) == val_y).float().mean().item(),
        })
