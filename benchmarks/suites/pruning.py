"""Schedule-aware pruning: does plain Hyperband prune the eventually-best schedule shape, and does by_shape help?

Task ``digits-transfer`` (backbone pretrained on digits 0-4, new head on digits 5-9, 10 labels a class), 20 epochs
a trial, one schedule shape shared by both groups, chosen from constant, cosine, wsd, onecycle and cyclic.

1. Reference set (no pruning): R configs drawn at random from the space without the shape, each trained to the
   end with every shape. A shape's score is the mean final validation accuracy of its top quarter of configs;
   the **eventually-best shape** is the highest-scoring one. The same scores at epochs 1, 3 and 9 (Hyperband's
   rungs) show how the ranking of shapes looks early.
2. Searches at an equal epoch budget (every epoch trained counts, pruned or not), TPE seeded per search seed,
   with no pruner, Hyperband, Hyperband + by_shape, median and median + by_shape (the pruners ``lrsearch run``
   builds, wrapped exactly as ``open_study`` wraps them). Per search: trials of the best shape and how many of
   them were pruned, the share of the other shapes' trials pruned, whether the best trial has the best shape,
   the best validation accuracy, and the test accuracy of that best trial (trained once, evaluated once).
"""

from __future__ import annotations

import statistics
from typing import Any

import optuna
import torch

from benchmarks._common import Result, mean_sd
from lrsearch.config import build_pruner, build_sampler, parse_spec
from lrsearch.pruning import ShapeAwarePruner
from lrsearch.space import SearchSpace
from lrsearch.tasks import load_task
from lrsearch.training import NullRecorder, TrialContext, TrialFailed, managed_train

TITLE = "Schedule-aware pruning (by_shape) vs plain pruning on digits-transfer"
DEFAULT = True
SHAPES = ["constant", "cosine", "wsd", "onecycle", "cyclic"]
EPOCHS = 20
VARIANTS = {  # name -> (pruner name, by_shape)
    "none": ("none", False),
    "hyperband": ("hyperband", False),
    "hyperband+by_shape": ("hyperband", True),
    "median": ("median", False),
    "median+by_shape": ("median", True),
}


def study_spec(name: str = "pruning-bench", shapes: list[str] | None = None, epochs: int = EPOCHS,
               **overrides: Any) -> dict[str, Any]:
    """The benchmark's study, as a user would write it (head lr, backbone ratio, optimizer, wd, shape)."""
    spec: dict[str, Any] = {
        "name": name,
        "objective": {"metric": "val_accuracy", "direction": "maximize"},
        "budget": {"trials": 1000, "epochs": epochs},
        "sampler": {"name": "tpe", "seed": 0},
        "pruner": {"name": "hyperband"},
        "task": {"builtin": "digits-transfer", "batch_size": 16, "device": "cpu", "threads": 1},
        "optimizer": {"name": {"choices": ["sgd", "adamw"]}, "weight_decay_exclude": ["bias", "norm"]},
        "groups": [
            {"name": "head", "params": ["head.*"], "lr": {"low": 1e-3, "high": 0.3, "log": True},
             "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True}},
            {"name": "backbone", "rest": True, "lr": {"ratio_of": "head", "low": 0.03, "high": 3.0, "log": True}},
        ],
        "schedule": {"shape": {"choices": shapes or SHAPES}},
    }
    spec.update(overrides)
    return spec


class _Reporter:
    """What the runner's recorder does for pruning (report, ask the pruner), without storage."""

    def __init__(self, trial: optuna.Trial) -> None:
        self.trial, self.epochs = trial, 0

    def record(self, epoch: int, step: int, wall_time: float, metrics: dict[str, float], groups: Any) -> None:
        self.epochs = epoch

    def should_prune(self, epoch: int, value: float) -> bool:
        self.trial.report(value, epoch)
        return self.trial.should_prune()


def train(task: Any, config: Any, batch_size: int, *, recorder: Any = None, test: bool = False) -> dict[str, float]:
    ctx = TrialContext(config=config, objective="val_accuracy", recorder=recorder or NullRecorder(),
                       batch_size=batch_size)
    return managed_train(ctx, task, evaluate_test=test)


def run_search(spec_data: dict[str, Any], *, pruner: str, by_shape: bool, seed: int, epoch_budget: int | None = None,
               trial_budget: int | None = None, task: Any = None) -> dict[str, Any]:
    """One search in memory, as ``lrsearch run`` would do it, until the epoch (or trial) budget is spent.

    Returns the trials (params, state, epochs, value, test accuracy) and the best complete trial.
    """
    spec = parse_spec({**spec_data, "pruner": {"name": pruner, "by_shape": by_shape}})
    space = SearchSpace(spec)
    task = task or load_task(spec.task.builtin, None, spec.task.options)
    built = build_pruner(spec.pruner.name, spec.pruner.options, spec.budget.epochs)
    if spec.pruner.by_shape:
        built = ShapeAwarePruner(built, space)
    sampler = build_sampler(spec.sampler.name, seed, spec.sampler.options, conditional=space.is_conditional())
    study = optuna.create_study(study_name=f"{spec.name}-{seed}", direction="maximize", sampler=sampler, pruner=built)
    trials: list[dict[str, Any]] = []
    used = 0
    while (epoch_budget is None or used < epoch_budget) and (trial_budget is None or len(trials) < trial_budget):
        trial = study.ask()
        config = space.sample(trial)
        rec = _Reporter(trial)
        row: dict[str, Any] = {"number": trial.number, "params": dict(config.params), "config": config}
        try:
            metrics = train(task, config, spec.task.batch_size, recorder=rec, test=True)
            study.tell(trial, metrics["val_accuracy"])
            row.update(state="COMPLETE", value=metrics["val_accuracy"], test=metrics.get("test_accuracy"))
        except optuna.TrialPruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            row.update(state="PRUNED", value=None, test=None)
        except TrialFailed:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            row.update(state="FAIL", value=None, test=None)
        row["epochs"] = rec.epochs
        used += rec.epochs
        trials.append(row)
    complete = [t for t in trials if t["state"] == "COMPLETE"]
    best = max(complete, key=lambda t: t["value"]) if complete else None
    return {"trials": trials, "best": best, "epochs": used}


def reference(task: Any, spec_data: dict[str, Any], configs: int, rungs: list[int]) -> dict[str, dict[int, float]]:
    """Per shape, the mean validation accuracy of its top quarter of configs at each rung and at the end."""
    spec = parse_spec(spec_data)
    space = SearchSpace(spec)
    shapes = list(spec.schedule.shape.choices or [])  # type: ignore[union-attr]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=12345))
    curves: dict[str, list[list[float]]] = {s: [] for s in shapes}
    for k in range(configs):
        params = space.sample(study.ask()).params
        for shape in shapes:
            config = space.config_from_params({**params, "schedule.shape": shape}, trial_number=k)
            rec = NullRecorder()
            try:
                train(task, config, spec.task.batch_size, recorder=rec)
                curves[shape].append([e["metrics"]["val_accuracy"] for e in rec.epochs])
            except TrialFailed:
                curves[shape].append([0.0] * spec.budget.epochs)
    top = max(1, configs // 4)
    out = {}
    for shape, rows in curves.items():
        out[shape] = {}
        for epoch in [*rungs, spec.budget.epochs]:
            values = sorted((r[epoch - 1] for r in rows), reverse=True)[:top]
            out[shape][epoch] = statistics.mean(values)
    return out


def run(quick: bool = False) -> Result:
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    epochs = 4 if quick else EPOCHS
    spec_data = study_spec(epochs=epochs, shapes=["constant", "onecycle"] if quick else None)
    task = load_task("digits-transfer", None, {})
    rungs = [1, 3] if quick else [1, 3, 9]
    ref = reference(task, spec_data, configs=2 if quick else 24, rungs=rungs)
    best_shape = max(ref, key=lambda s: ref[s][epochs])
    ranks = {e: sorted(ref, key=lambda s: -ref[s][e]) for e in [*rungs, epochs]}
    seeds = [0] if quick else list(range(8))
    budget = 3 * epochs if quick else 30 * epochs
    variants = {k: v for k, v in VARIANTS.items() if not quick or k in ("hyperband", "hyperband+by_shape")}
    per_variant: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for seed in seeds:
        for name, (pruner, by_shape) in variants.items():
            out = run_search(spec_data, pruner=pruner, by_shape=by_shape, seed=seed, epoch_budget=budget, task=task)
            trials = out["trials"]
            mine = [t for t in trials if t["params"].get("schedule.shape") == best_shape]
            others = [t for t in trials if t["params"].get("schedule.shape") != best_shape]
            best = out["best"]
            per_variant[name].append({
                "trials": len(trials), "epochs": out["epochs"], "best_shape_trials": len(mine),
                "best_shape_pruned": sum(t["state"] == "PRUNED" for t in mine),
                "others_pruned_share": (sum(t["state"] == "PRUNED" for t in others) / len(others)) if others else 0.0,
                "best_has_shape": bool(best and best["params"].get("schedule.shape") == best_shape),
                "best_val": best["value"] if best else float("nan"),
                "best_test": best["test"] if best else float("nan"),
            })
    rows = []
    for name, runs in per_variant.items():
        n_mine = sum(r["best_shape_trials"] for r in runs)
        n_pruned = sum(r["best_shape_pruned"] for r in runs)
        val_m, val_sd = mean_sd([r["best_val"] for r in runs])
        test_m, test_sd = mean_sd([r["best_test"] for r in runs])
        rows.append({
            "pruner": name,
            "trials/search": statistics.mean(r["trials"] for r in runs),
            "epochs/search": statistics.mean(r["epochs"] for r in runs),
            f"{best_shape} trials": n_mine,
            f"{best_shape} pruned": f"{n_pruned} ({n_pruned / n_mine:.0%})" if n_mine else "0",
            "other shapes pruned": f"{statistics.mean(r['others_pruned_share'] for r in runs):.0%}",
            f"best trial is {best_shape}": f"{sum(r['best_has_shape'] for r in runs)}/{len(runs)}",
            "best val (mean ± sd)": f"{val_m:.4f} ± {val_sd:.4f}",
            "its test (mean ± sd)": f"{test_m:.4f} ± {test_sd:.4f}",
            "test ratio vs hyperband": statistics.mean(
                r["best_test"] / b["best_test"] for r, b in zip(runs, per_variant["hyperband"], strict=True)),
        })
    ref_line = "; ".join(
        f"epoch {e}: " + ", ".join(f"{s} {ref[s][e]:.3f}" for s in ranks[e]) for e in [*rungs, epochs])
    notes = [
        f"Eventually-best shape: **{best_shape}** (reference set: {2 if quick else 24} random configs x every shape, "
        f"no pruning; score = mean final val accuracy of each shape's top quarter). Shapes ranked by that score "
        f"at Hyperband's rungs and at the end: {ref_line}.",
        f"Equal budget: {budget} epochs per search ({budget // epochs} full trials), {epochs} epochs a trial; "
        f"TPE seeded by the search seed; counts summed over {len(seeds)} seeds, values are means over seeds.",
        *(_paired(per_variant, plain, plain + "+by_shape") for plain in ("hyperband", "median")
          if plain in per_variant and plain + "+by_shape" in per_variant),
        "Per seed (best val / test of best): " + "; ".join(
            f"{name}: " + ", ".join(f"{r['best_val']:.3f}/{r['best_test']:.3f}" for r in runs)
            for name, runs in per_variant.items()),
    ]
    return Result("pruning", TITLE, rows, notes=notes, seeds=seeds)


def _paired(per_variant: dict[str, list[dict[str, Any]]], plain: str, remedy: str) -> str:
    """Per seed (same TPE seed, same trial seeds): the remedy's test accuracy against the plain pruner's."""
    diffs = [100 * (r["best_test"] - p["best_test"]) for p, r in zip(per_variant[plain], per_variant[remedy],
                                                                     strict=True)]
    wins, ties = sum(d > 1e-9 for d in diffs), sum(abs(d) <= 1e-9 for d in diffs)
    mean, sd = mean_sd(diffs)
    return (f"Paired by seed, {remedy} vs {plain}: test of the best trial {mean:+.2f} points on average "
            f"(sd {sd:.2f}); {wins} better, {ties} equal, {len(diffs) - wins - ties} worse.")
