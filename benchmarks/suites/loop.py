"""Training-loop overhead: lrsearch's managed loop against a minimal hand-written PyTorch loop.

Same model, data, optimizer, batch size, epochs and thread count; both evaluate on the validation split every
epoch. The managed loop also builds groups, steps a per-group schedule every batch, checks freezing and the
deadline, and records effective per-group values (to an in-memory recorder here, to isolate the loop from
storage). Runs alternate so that drift in machine load hits both sides. Target ratio <= 1.10.
"""

from __future__ import annotations

import math

import torch

from benchmarks._common import Result, median, timed
from lrsearch.space import GroupConfig, OptimizerConfig, ScheduleConfig, TrialConfig
from lrsearch.tasks import load_task
from lrsearch.training import NullRecorder, TrialContext, managed_train, seed_everything

TITLE = "Training-loop overhead: managed loop vs hand-written loop (same model and data)"
DEFAULT = True


def _config(epochs: int) -> TrialConfig:
    sched = ScheduleConfig(shape="cosine", warmup=0.1)
    groups = [
        GroupConfig(name="head", lr=0.05, params=["head.*"], momentum=0.9, weight_decay=1e-4, schedule=sched),
        GroupConfig(name="backbone", lr=0.01, rest=True, momentum=0.9, weight_decay=1e-4, schedule=sched),
    ]
    return TrialConfig(epochs=epochs, seed=0, optimizers=[OptimizerConfig(key="main", name="sgd", groups=groups)])


def _managed(task, epochs: int, batch: int) -> float:
    ctx = TrialContext(config=_config(epochs), objective="val_accuracy", recorder=NullRecorder(), batch_size=batch)
    return managed_train(ctx, task)["val_accuracy"]


def _hand_written(task, epochs: int, batch: int) -> float:
    seed_everything(0)
    model = task.build_model()
    head = [p for n, p in model.named_parameters() if n.startswith("head.")]
    rest = [p for n, p in model.named_parameters() if not n.startswith("head.")]
    opt = torch.optim.SGD([{"params": head, "lr": 0.05}, {"params": rest, "lr": 0.01}], momentum=0.9,
                          weight_decay=1e-4)
    steps = math.ceil(len(task.train.x) / batch) * epochs
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    x, y = task.train.x, task.train.y
    gen = torch.Generator().manual_seed(0)
    acc = 0.0
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            loss = task.loss(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        with torch.no_grad():
            out = model(task.val.x)
            _ = task.loss(out, task.val.y)
            acc = float((out.argmax(1) == task.val.y).float().mean())
    return acc


def run(quick: bool = False) -> Result:
    torch.set_num_threads(1)
    rows = []
    cases = [("digits", {}, 64, 2 if quick else 10)]
    if not quick:
        cases.append(("digits-transfer", {}, 16, 20))
    reps = 1 if quick else 5
    for name, options, batch, epochs in cases:
        task = load_task(name, None, options)
        _managed(task, 1, batch)  # warm-up: data on device, allocator, imports
        _hand_written(task, 1, batch)
        managed, hand = [], []
        for _ in range(reps):
            managed.append(timed(lambda t=task, e=epochs, b=batch: _managed(t, e, b))[0])
            hand.append(timed(lambda t=task, e=epochs, b=batch: _hand_written(t, e, b))[0])
        m, h = median(managed), median(hand)
        rows.append({
            "task": name, "epochs": epochs, "batch": batch, "steps/epoch": math.ceil(len(task.train.x) / batch),
            "hand-written s/epoch": h / epochs, "managed s/epoch": m / epochs, "ratio": m / h,
            "target": "<= 1.10", "ok": m / h <= 1.10,
        })
    return Result("loop", TITLE, rows, notes=[f"medians of {reps} alternating runs, 1 CPU thread"], seeds=[0])
