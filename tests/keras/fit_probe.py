"""``KERAS_BACKEND=<backend> python -m tests.keras.fit_probe OUT.json``: model.fit with lrsearch's Keras optimizer.

Runs in its own process, since Keras picks its backend once, at import. Trains a small functional model with
``fit_setup`` (SGD, then AdamW), replays the same batches with ``torch.optim`` and lrsearch's torch
``GroupScheduler`` as the managed loop uses them, prunes a trial mid-fit, saves and reloads a model, and writes
everything the tests assert on as JSON.
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any

import keras
import numpy as np
import optuna
import torch
import torch.nn.functional as F

from lrsearch.integrations.keras import GroupOptimizer, fit_setup
from lrsearch.schedules import GroupScheduler
from lrsearch.training import NullRecorder, TrialContext
from lrsearch.trial_config import GroupConfig, OptimizerConfig, ScheduleConfig, TrialConfig

BATCH = 20
TRAIN, VAL = 100, 40  # 5 batches an epoch


def data() -> tuple[np.ndarray, ...]:
    rng = np.random.RandomState(0)
    x = rng.normal(size=(TRAIN + VAL, 6)).astype("float32")
    y = np.argmax(x @ rng.normal(size=(6, 3)), axis=1).astype("int64")
    return x[:TRAIN], y[:TRAIN], x[TRAIN:], y[TRAIN:]


def model() -> keras.Model:
    """``backbone`` (Dense ``dense`` + ReLU) then Dense ``head``, with weights drawn from a fixed numpy seed."""
    backbone = keras.Sequential([keras.layers.Dense(8, name="dense"), keras.layers.ReLU(name="relu")], name="backbone")
    inputs = keras.Input((6,), name="features")
    net = keras.Model(inputs, keras.layers.Dense(3, name="head")(backbone(inputs)), name="probe_net")
    rng = np.random.RandomState(1)
    for v in net.trainable_variables:
        v.assign(rng.normal(scale=0.5, size=v.shape).astype("float32"))
    return net


def config(name: str, epochs: int) -> TrialConfig:
    """A cosine head with warmup; a backbone frozen for 2 epochs on a linear decay; no decay on biases."""
    groups = [
        GroupConfig("head", 0.05, params=["head/*"], momentum=0.9, betas=(0.85, 0.99) if name != "sgd" else None,
                    weight_decay=1e-3, schedule=ScheduleConfig("cosine", warmup=0.2)),
        GroupConfig("backbone", 0.02, params=["backbone/*"], momentum=0.8,
                    betas=(0.9, 0.999) if name != "sgd" else None, weight_decay=1e-3, freeze_epochs=2,
                    schedule=ScheduleConfig("linear", params={"end_factor": 0.1})),
    ]
    return TrialConfig(epochs, seed=7, optimizers=[OptimizerConfig("main", name, weight_decay_exclude=["bias"],
                                                                   groups=groups)])


class Snapshot(keras.callbacks.Callback):
    """After lrsearch's callback: weights, the optimizer's step and its on-device values at each epoch end."""

    def __init__(self, optimizer: GroupOptimizer) -> None:
        super().__init__()
        self.optimizer, self.epochs = optimizer, []

    def snap(self) -> dict[str, Any]:
        return {"iterations": int(keras.ops.convert_to_numpy(self.optimizer.iterations)),
                "device_values": self.optimizer.device_values(),
                "weights": {v.path: keras.ops.convert_to_numpy(v).tolist() for v in self.model.trainable_variables}}

    def on_train_begin(self, logs: Any = None) -> None:
        self.epochs.append(self.snap())

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.epochs.append(self.snap())


class PruneAt(NullRecorder):
    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def should_prune(self, epoch: int, value: float) -> bool:
        return epoch >= self.epoch


def fit(name: str, epochs: int, recorder: NullRecorder) -> tuple[dict[str, Any], keras.Model, GroupOptimizer]:
    x, y, xv, yv = data()
    cfg = config(name, epochs)
    ctx = TrialContext(config=cfg, objective="val_accuracy", recorder=recorder, batch_size=BATCH)
    net = model()
    optimizer, callbacks = fit_setup(ctx, net)
    snapshot = Snapshot(optimizer)
    net.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"])
    outcome = "complete"
    try:
        net.fit(x, y, batch_size=BATCH, epochs=epochs, validation_data=(xv, yv), shuffle=False, verbose=0,
                callbacks=[*callbacks, snapshot])
    except optuna.TrialPruned as exc:
        outcome = f"pruned: {exc}"
    return {"config": cfg.to_dict(), "groups": optimizer.groups, "steps_per_epoch": optimizer.steps_per_epoch,
            "rows": recorder.epochs, "snapshots": snapshot.epochs, "outcome": outcome}, net, optimizer


def torch_replay(name: str, epochs: int, optimizer_groups: list[dict[str, Any]], initial: dict[str, Any]) -> dict:
    """The same batches through torch.optim + lrsearch's GroupScheduler, frozen groups as the managed loop freezes."""
    x, y, _, _ = data()
    params = {path: torch.tensor(value, dtype=torch.float32, requires_grad=True) for path, value in initial.items()}
    cfg = config(name, epochs).optimizers[0]
    schedules = {g.name: g.schedule for g in cfg.groups}
    param_groups = []
    for g in optimizer_groups:
        group: dict[str, Any] = {"params": [params[p] for p in g["variables"]], "lr": g["lr"],
                                 "weight_decay": g["weight_decay"], "frozen_until": g["freeze_epochs"]}
        if name == "sgd":
            group["momentum"] = g["momentum"]
        else:
            group["betas"] = (g["momentum"], g["beta2"])
        param_groups.append(group)
    opt = torch.optim.SGD(param_groups, lr=0.1, momentum=0.9) if name == "sgd" else torch.optim.AdamW(param_groups)
    spec_group = [schedules[g["name"].removesuffix(".no_decay")] for g in optimizer_groups]
    bases = [{"lr": g["lr"], "weight_decay": g["weight_decay"]} for g in optimizer_groups]
    steps = math.ceil(TRAIN / BATCH)
    scheduler = GroupScheduler(opt, spec_group, bases, steps_per_epoch=steps, epochs=epochs)
    k1, b1 = params["backbone/dense/kernel"], params["backbone/dense/bias"]
    k2, b2 = params["head/kernel"], params["head/bias"]
    for epoch in range(epochs):
        for group in opt.param_groups:
            for p in group["params"]:
                p.requires_grad_(epoch >= group["frozen_until"])
                p.grad = None
        for start in range(0, TRAIN, BATCH):
            xb, yb = torch.from_numpy(x[start:start + BATCH]), torch.from_numpy(y[start:start + BATCH])
            loss = F.cross_entropy(torch.relu(xb @ k1 + b1) @ k2 + b2, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            scheduler.step()
    return {path: p.detach().numpy().tolist() for path, p in params.items()}


def main(out: str) -> None:
    torch.set_num_threads(1)
    result: dict[str, Any] = {"backend": keras.backend.backend(), "keras": keras.__version__}
    for name, epochs in (("sgd", 3), ("adamw", 3)):
        run, net, optimizer = fit(name, epochs, NullRecorder())
        run["torch_weights"] = torch_replay(name, epochs, run["groups"], run["snapshots"][0]["weights"])
        result[name] = run
        if name == "sgd":
            path = os.path.join(os.path.dirname(out), "saved.keras")
            net.save(path)
            loaded = keras.models.load_model(path)
            result["reloaded"] = {"class": type(loaded.optimizer).__name__, "config": loaded.optimizer.get_config(),
                                  "original_config": optimizer.get_config(),
                                  "iterations": int(keras.ops.convert_to_numpy(loaded.optimizer.iterations)),
                                  "group_values": loaded.optimizer.group_values(),
                                  "original_group_values": optimizer.group_values()}
    run, _, _ = fit("sgd", 4, PruneAt(2))
    result["pruned"] = run
    with open(out, "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main(sys.argv[1])
