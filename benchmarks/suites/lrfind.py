"""lr-find narrowed ranges vs the original ranges, at an equal epoch budget, on digits-transfer.

The original study has the wide ranges a user writes when unsure (head lr 1e-5..1, backbone lr 1e-3..10 x the
head's, SGD or AdamW, weight decay, constant/cosine/onecycle), 20 epochs a trial, no pruning. Per seed:

- ``lr-find`` (per-group and joint, 100 batches a test, fastai's valley, [valley/3, valley*3]) writes the
  narrowed study through the same code as ``lrsearch lr-find --write``;
- the three studies run through ``lrsearch``'s own runner (SQLite on a RAM disk), TPE seeded with the seed;
- equal budget: the narrowed searches get 20 trials, and the original gets the epochs lr-find spent on top
  (a range-test batch counts as 1/steps-per-epoch of an epoch); the joint search gets what it saved over
  per-group lr-find;
- each search's best trial (by validation accuracy) is confirmed with ``lrsearch.results.confirm_top``: retrained
  with 3 fresh seeds and scored on the held-out test split, which neither lr-find nor the search saw.
"""

from __future__ import annotations

import copy
import math
import statistics
import tempfile
from pathlib import Path
from typing import Any

import optuna
import torch
import yaml

from benchmarks._common import Result, mean_sd
from lrsearch.api import run_study
from lrsearch.config import parse_spec
from lrsearch.lrfind import lr_find, narrowed_text
from lrsearch.results import confirm_top

TITLE = "lr-find narrowed ranges vs original ranges at equal budget (digits-transfer, confirmed test accuracy)"
DEFAULT = True
EPOCHS = 20
TRIALS = 20
ITERS = 100
STEPS_PER_EPOCH = 4  # 50 training images in batches of 16


def original_spec(name: str, seed: int, epochs: int = EPOCHS) -> dict[str, Any]:
    return {
        "name": name,
        "objective": {"metric": "val_accuracy", "direction": "maximize"},
        "budget": {"trials": TRIALS, "epochs": epochs},
        "sampler": {"name": "tpe", "seed": seed},
        "pruner": {"name": "none"},
        "task": {"builtin": "digits-transfer", "batch_size": 16, "device": "cpu", "threads": 1},
        "optimizer": {"name": {"choices": ["sgd", "adamw"]}, "weight_decay_exclude": ["bias", "norm"]},
        "groups": [
            {"name": "head", "params": ["head.*"], "lr": {"low": 1e-5, "high": 1.0, "log": True},
             "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True}},
            {"name": "backbone", "rest": True, "lr": {"ratio_of": "head", "low": 1e-3, "high": 10.0, "log": True}},
        ],
        "schedule": {"shape": {"choices": ["constant", "cosine", "onecycle"]}},
    }


def _search(directory: Path, data: dict[str, Any], trials: int) -> dict[str, Any]:
    path = directory / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    handle, _ = run_study(str(path), trials=trials, progress=None, confirm=False)
    best = handle.study.best_trial
    ranking = confirm_top(handle, top=1, seeds=3, progress=None)
    confirmed = float(ranking["mean"].iloc[0]) if not ranking.empty else float("nan")
    params = best.params
    head = params.get("head.lr")
    return {"val": best.value, "test": confirmed, "trials": trials, "head_lr": head,
            "ratio": params.get("backbone.lr_ratio"), "opt": params.get("opt.name")}


def _narrowed(directory: Path, data: dict[str, Any], mode: str, iters: int, seed: int) -> tuple[dict, Any, int]:
    text = yaml.safe_dump(data, sort_keys=False)
    spec = parse_spec(yaml.safe_load(text), base_dir=directory)
    result = lr_find(spec, mode=mode, iters=iters, seed=seed)
    new = yaml.safe_load(narrowed_text(text, result.ranges, f"{data['name']}-{mode}", "narrowed"))
    batches = sum(len(c.lrs) for c in result.curves)
    return new, result, batches


def run(quick: bool = False) -> Result:
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    seeds = [0] if quick else list(range(6))
    epochs, trials, iters = (3, 3, 20) if quick else (EPOCHS, TRIALS, ITERS)
    shm = Path("/dev/shm")
    arms: dict[str, list[dict[str, Any]]] = {"original ranges": [], "lr-find per-group": [], "lr-find joint": []}
    ranges: list[str] = []
    for seed in seeds:
        with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None, prefix="lrsearch-bench-") as tmp:
            directory = Path(tmp)
            base = original_spec(f"orig-{seed}", seed, epochs)
            per_group, found, pg_batches = _narrowed(directory, copy.deepcopy(base), "per-group", iters, seed)
            joint, found_joint, joint_batches = _narrowed(directory, copy.deepcopy(base), "joint", iters, seed)
            trial_epochs = epochs * STEPS_PER_EPOCH
            extra = math.ceil(pg_batches / trial_epochs)  # trials' worth of batches that per-group lr-find used
            saved = (pg_batches - joint_batches) // trial_epochs
            runs = {
                "original ranges": (base, trials + extra),
                "lr-find per-group": (per_group, trials),
                "lr-find joint": (joint, trials + saved),
            }
            for arm, (data, n) in runs.items():
                out = _search(directory, data, n)
                out["lrfind_batches"] = {"original ranges": 0, "lr-find per-group": pg_batches,
                                         "lr-find joint": joint_batches}[arm]
                arms[arm].append(out)
            ranges.append(f"seed {seed}: " + ", ".join(
                f"{r.param} {'[' + ', '.join(f'{v:.3g}' for v in r.new) + ']' if r.new else 'unchanged'}"
                for r in found.ranges) + "; joint: " + ", ".join(
                f"{r.param} {'[' + ', '.join(f'{v:.3g}' for v in r.new) + ']' if r.new else 'unchanged'}"
                for r in found_joint.ranges))
    rows = []
    for arm, outs in arms.items():
        val_m, val_sd = mean_sd([o["val"] for o in outs])
        test_m, test_sd = mean_sd([o["test"] for o in outs])
        rows.append({
            "search": arm,
            "trials": statistics.mean(o["trials"] for o in outs),
            "lr-find batches": statistics.mean(o["lrfind_batches"] for o in outs),
            "best val (mean ± sd)": f"{val_m:.4f} ± {val_sd:.4f}",
            "confirmed test (mean ± sd)": f"{test_m:.4f} ± {test_sd:.4f}",
            "test ratio vs original": statistics.mean(
                o["test"] / b["test"] for o, b in zip(outs, arms["original ranges"], strict=True)),
            "per seed test": " ".join(f"{o['test']:.3f}" for o in outs),
        })
    def paired(arm: str) -> str:
        diffs = [100 * (a["test"] - o["test"]) for a, o in zip(arms[arm], arms["original ranges"], strict=True)]
        mean, sd = mean_sd(diffs)
        return (f"{arm}: {mean:+.2f} points (sd {sd:.2f}), better on {sum(d > 1e-9 for d in diffs)}/{len(diffs)} "
                f"seeds")

    notes = [
        f"Original ranges: head.lr log [1e-05, 1], backbone.lr_ratio log [0.001, 10], SGD or AdamW; {epochs} epochs "
        f"a trial, {trials} trials for the narrowed searches plus the trials' worth of batches lr-find spent for the "
        f"original. Confirmed test = mean test accuracy of the search's best trial retrained with 3 fresh seeds "
        f"(lrsearch.results.confirm_top). Paired by seed against the original ranges: "
        f"{paired('lr-find per-group')}; {paired('lr-find joint')}.",
        "Narrowed ranges (valley/3 .. valley*3, envelope over SGD and AdamW): " + " | ".join(ranges),
        "Best configs (opt, head lr, ratio): " + " | ".join(
            f"{arm}: " + ", ".join(f"{o['opt']} {o['head_lr']:.2g} {o['ratio']:.2g}" for o in outs)
            for arm, outs in arms.items()),
    ]
    return Result("lrfind", TITLE, rows, notes=notes, seeds=seeds)
