"""Search efficiency on the LCBench surrogate: lrsearch's TPE + Hyperband against TPE and random search without
pruning, at equal epoch budgets.

LCBench has no parameter groups, so this checks the search machinery (sampler, pruner, run loop, storage) on
real learning curves, not the value of per-group settings. Every search runs through lrsearch's own path: a
study with one parameter group (SGD lr, momentum, weight decay: the optimizer settings LCBench varies) whose
own-loop ``task.train`` (:func:`benchmarks.lcbench.train`) reports the surrogate's curve epoch by epoch; the
architecture and batch size stay at the config space's defaults (:data:`benchmarks.lcbench.FIXED`).

Held-out score: the surrogate's *test* balanced accuracy of the best config at the last epoch (52). The
surrogate is deterministic, so there are no retraining seeds; the spread is over search seeds.
"""

from __future__ import annotations

from typing import Any

from benchmarks._common import Result, Skip
from benchmarks.lcbench import EPOCHS, FIXED, missing
from benchmarks.suites.search import Arm, compare, details, parallel_jobs, run_arms

TITLE = "Search efficiency on the LCBench surrogate: TPE + Hyperband (lrsearch) vs TPE and random, no pruning"
DEFAULT = True

INSTANCES = ("3945", "7593", "34539")  # the first three datasets of the surrogate's config space
SEEDS = (0, 1, 2, 3, 4)
BUDGET_TRIALS = 30


def lcbench_arms() -> list[Arm]:
    space = {
        "optimizer": {"name": "sgd"},
        "groups": [{"name": "all", "rest": True, "lr": {"low": 1e-4, "high": 0.1, "log": True},
                    "momentum": {"low": 0.1, "high": 0.99}, "weight_decay": {"low": 1e-5, "high": 0.1}}],
    }
    return [
        Arm("tpe", "TPE, no pruning (baseline)", {**space, "sampler": {"name": "tpe"}, "pruner": {"name": "none"}}),
        Arm("random", "random search, no pruning", {**space, "sampler": {"name": "random"}, "pruner": {"name": "none"}}),
        Arm("lrsearch", "TPE + Hyperband (lrsearch's defaults: min 1 epoch, reduction factor 3)",
            {**space, "sampler": {"name": "tpe"}, "pruner": {"name": "hyperband"}}),
    ]


def run(quick: bool = False) -> Result:
    reason = missing()
    if reason:
        raise Skip(reason)
    epochs, trials = (EPOCHS, 3) if quick else (EPOCHS, BUDGET_TRIALS)
    instances = INSTANCES[:1] if quick else INSTANCES
    seeds = SEEDS[:1] if quick else SEEDS
    arms = lcbench_arms()
    jobs = 1 if quick else parallel_jobs()
    rows: list[dict[str, Any]] = []
    raw: dict[str, Any] = {}
    for instance in instances:
        print(f"  LCBench dataset {instance}", flush=True)
        options = {"instance": instance}
        base = {
            "objective": {"metric": "val_balanced_accuracy", "direction": "maximize"},
            "budget": {"trials": 10_000, "epochs": epochs},
            "task": {"train": "benchmarks.lcbench:train", "device": "cpu", "threads": 1, "options": options},
        }

        runs = run_arms(base, arms, seeds, epochs * trials, 1, jobs)
        rows += compare(f"lcbench-{instance}", arms, runs, "tpe", "test bal. acc.")
        raw[instance] = details(runs)
    notes = [
        "Searches: " + "; ".join(f"`{a.key}`: {a.description}" for a in arms) + ".",
        f"Space: SGD learning_rate [1e-4, 0.1] log, momentum [0.1, 0.99], weight_decay [1e-5, 0.1]; fixed {FIXED}. "
        f"Objective: the surrogate's validation balanced accuracy, reported at every epoch 1..{epochs}.",
        f"Budget: {epochs * trials} epochs per search ({trials} whole trials of {epochs} epochs); a search starts a "
        "trial only while a whole one still fits.",
        "Confirmed: lrsearch's `confirm` (top 1, one seed) on the best config, which reports the surrogate's test "
        "balanced accuracy at epoch 52 (the surrogate has a test metric and is deterministic, so one run). Best val: the search's own best validation "
        "balanced accuracy (biased upward).",
        "Epochs to baseline's best / epochs ratio / held-out ratio: as in the `search` suite, against `tpe` with "
        f"the same seed and dataset. Searches ran {jobs} at a time (seeded, one thread each: same results).",
    ]
    return Result("lcbench", TITLE, rows, notes=notes, seeds=list(seeds), details=raw)
