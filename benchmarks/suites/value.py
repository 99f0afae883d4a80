"""Does per-group search pay? lrsearch's default against single-lr TPE at equal epochs, confirmed on held-out data.

Per task and search seed, every arm runs a search through lrsearch's own path (``open_study`` + ``run_here``,
SQLite) with the same epoch budget (pruned epochs count; a search starts a trial only while a whole one still
fits), then lrsearch's ``confirm`` retrains the search's best trial (by validation) with fresh seeds and scores
it on the held-out test split. Arms:

- ``tpe-global`` (the baseline): one lr for every parameter, weight decay (and momentum for SGD), fixed cosine
  schedule; multivariate TPE with 4 start-up trials (the same sampler as the new default); no pruning;
- ``random-global``: the same space, random search;
- ``previous``: lrsearch's previous default per-group search (per-group lr/wd/momentum/freezing and schedule
  shapes, TPE, Hyperband; for the transformer the shipped ``layerwise_decay`` study: median pruning);
- ``default``: the nested per-group space (head lr, backbone lr as a ratio of it in [0.01, 3], freezing 0-2
  epochs or layer-wise decay in [0.5, 1], weight decay and momentum shared by all groups, fixed cosine), the
  ``auto`` recipes queued first, multivariate TPE with 4 start-up trials, successive halving (rungs 1, 3);
- ``staged``: the same space, sampler and pruner; stage 1 (half the epochs) searches the single-lr space,
  stage 2 the per-group dimensions around stage 1's best;
- ``recipes``: no search: only the ``auto`` recipes, each trained once; the best by validation is confirmed;
- ``sf-global``: ``tpe-global`` with schedule-free AdamW/SGD and a constant schedule;
- ``sf-default``: ``default`` with schedule-free AdamW/SGD and a constant schedule (lrsearch's defaults now);
- ``sf-plain``: ``sf-default`` with the previous silent sampler and pruner (Optuna's TPE defaults, median).

Tasks: ``digits-transfer``, ``digits-shift``, ``digits-transformer`` by default; ``fashion-effnet`` (EfficientNet-Lite0
on Fashion-MNIST, CPU-sized: 1,000 images at 32 px, 8 trials of 3 epochs a search) on request: on this 2-core
machine one of its searches takes about an hour, so it is meant for a GPU (``LRSEARCH_VALUE_DEVICE=cuda``).

Paired differences are per search seed (same seed, same data splits, same task seed base) against the baseline.
``LRSEARCH_VALUE_TASKS`` (comma-separated), ``LRSEARCH_VALUE_SEEDS`` (a count), ``LRSEARCH_VALUE_ARMS``
(comma-separated, or ``all``) and ``LRSEARCH_VALUE_DEVICE`` (default ``cpu``) choose the size.
"""

from __future__ import annotations

import math
import os
import statistics
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna
import yaml

from benchmarks._common import Result, Skip, pm
from benchmarks.suites.search import Arm, SearchRun, confirm_best, parallel_jobs, run_search

TITLE = "Does per-group search pay? lrsearch's default vs single-lr TPE at equal epochs, held-out scores"
DEFAULT = False  # about an hour on 2 cores at the sizes below

EPOCHS = 6
BUDGET_TRIALS = 15  # a search's budget: this many whole trials' worth of epochs
CONFIRM_SEEDS = 3
TASKS = ("digits-transfer", "digits-shift", "digits-transformer")
SEEDS = 10
ARMS = ("tpe-global", "random-global", "previous", "default", "staged", "recipes", "sf-global", "sf-default",
        "sf-plain")
RUNGS = (1, 3)  # epochs whose values are rank-correlated with the last epoch's


@dataclass(frozen=True)
class TaskSetup:
    name: str
    task: dict[str, Any]
    transformer: bool
    lr: tuple[float, float]
    head: tuple[str, ...] = ("head.*",)
    epochs: int = EPOCHS
    trials: int = BUDGET_TRIALS  # a search's budget: this many whole trials' worth of epochs


SETUPS = {
    "digits-transfer": TaskSetup("digits-transfer", {"builtin": "digits-transfer", "batch_size": 16}, False,
                                 (1e-4, 0.3)),
    "digits-shift": TaskSetup("digits-shift", {"builtin": "digits-shift", "batch_size": 16}, False, (1e-4, 0.3)),
    "digits-transformer": TaskSetup(
        "digits-transformer",
        {"builtin": "digits-transformer", "options": {"d_model": 32, "layers": 4, "labels_per_class": 20},
         "batch_size": 32},
        True, (1e-4, 5e-2)),
    # CPU-sized: 1,000 training images at 32 px, 3 epochs a trial, 8 trials' worth of epochs a search.
    "fashion-effnet": TaskSetup(
        "fashion-effnet",
        {"builtin": "fashion-effnet", "batch_size": 64,
         "options": {"image_size": 32, "train_size": 1000, "val_size": 500, "test_size": 1000, "bn_momentum": 0.1}},
        False, (1e-4, 0.3), head=("_fc.*",), epochs=3, trials=8),
}

NEW_SAMPLER = {"name": "tpe", "options": {"multivariate": True, "n_startup_trials": 4}}
NEW_PRUNER = {"name": "successive_halving", "options": {"min_resource": 1, "reduction_factor": 3}}


def _lr(setup: TaskSetup) -> dict[str, Any]:
    return {"low": setup.lr[0], "high": setup.lr[1], "log": True}


def _optimizer(setup: TaskSetup, schedule_free: bool = False) -> dict[str, Any]:
    if setup.transformer:
        names: Any = "adamw_schedulefree" if schedule_free else "adamw"
    else:
        names = {"choices": ["adamw_schedulefree", "sgd_schedulefree"] if schedule_free else ["adamw", "sgd"]}
    return {"name": names, "weight_decay_exclude": ["bias", "norm"]}


def _wd(setup: TaskSetup) -> dict[str, Any]:
    return {"low": 1e-4, "high": 0.1, "log": True} if setup.transformer else {"low": 1e-6, "high": 1e-2, "log": True}


def single_space(setup: TaskSetup, schedule_free: bool = False) -> dict[str, Any]:
    group: dict[str, Any] = {"name": "all", "rest": True, "lr": _lr(setup), "weight_decay": _wd(setup)}
    if not setup.transformer:
        group["momentum"] = {"low": 0.8, "high": 0.98}
    return {"optimizer": _optimizer(setup, schedule_free), "groups": [group],
            "schedule": {"shape": "constant" if schedule_free else "cosine"}}


def nested_space(setup: TaskSetup, schedule_free: bool = False) -> dict[str, Any]:
    """The single-lr space plus the per-group dimensions; the single-lr configuration is a point of it."""
    schedule = {"shape": "constant" if schedule_free else "cosine"}
    if setup.transformer:
        groups = [
            {"name": "head", "params": ["head.*", "norm.*"], "lr": _lr(setup), "weight_decay": _wd(setup)},
            {"name": "layers", "layerwise": {"pattern": r"encoder\.layers\.(\d+)\..*", "decay": {"low": 0.5, "high": 1.0}},
             "lr": {"ratio_of": "head", "value": 1.0}, "weight_decay": {"same_as": "head"}},
            {"name": "embeddings", "rest": True, "lr": {"ratio_of": "head", "low": 0.01, "high": 1.0, "log": True},
             "weight_decay": {"same_as": "head"}},
        ]
    else:
        groups = [
            {"name": "head", "params": list(setup.head), "lr": _lr(setup), "momentum": {"low": 0.8, "high": 0.98},
             "weight_decay": _wd(setup)},
            {"name": "backbone", "rest": True, "lr": {"ratio_of": "head", "low": 0.01, "high": 3.0, "log": True},
             "momentum": {"same_as": "head"}, "weight_decay": {"same_as": "head"},
             "freeze_epochs": {"choices": [0, 1, 2]}},
        ]
    return {"optimizer": _optimizer(setup, schedule_free), "groups": groups, "schedule": schedule}


def previous_space(setup: TaskSetup) -> dict[str, Any]:
    """What lrsearch's per-group search used before: every group's own settings and schedule shape."""
    if setup.transformer:  # studies/layerwise_decay.yaml
        return {
            "optimizer": {"name": "adamw", "weight_decay_exclude": ["bias", "norm"]},
            "groups": [
                {"name": "head", "params": ["head.*", "norm.*"], "lr": {"low": 1e-3, "high": 5e-2, "log": True},
                 "weight_decay": {"low": 1e-4, "high": 0.1, "log": True}},
                {"name": "layers", "layerwise": {"pattern": r"encoder\.layers\.(\d+)\..*",
                                                 "decay": {"low": 0.5, "high": 1.0}},
                 "lr": {"ratio_of": "head", "value": 1.0}, "weight_decay": {"low": 1e-4, "high": 0.1, "log": True}},
                {"name": "embeddings", "rest": True, "lr": {"ratio_of": "head", "low": 0.01, "high": 1.0, "log": True}},
            ],
            "schedule": {"shape": ["cosine", "wsd"], "warmup": {"low": 0.0, "high": 0.2}},
        }
    if setup.name == "fashion-effnet":  # studies/transfer_effnet_fashion.yaml as shipped
        from benchmarks.suites.transfer import STUDY

        study = yaml.safe_load(STUDY.read_text())
        return {k: study[k] for k in ("optimizer", "groups", "schedule")}
    from benchmarks.suites.search import digits_arms

    spec = dict(next(a for a in digits_arms(setup.epochs) if a.key == "lrsearch").spec)
    spec.pop("sampler"), spec.pop("pruner")
    return spec


def arms(setup: TaskSetup) -> list[Arm]:
    none = {"name": "none"}
    budget = {"trials": setup.trials, "epochs": setup.epochs}
    if setup.transformer:
        previous_pruner: dict[str, Any] = {"name": "median", "options": {"n_startup_trials": 5, "n_warmup_steps": 4}}
    elif setup.name == "fashion-effnet":  # the shipped study's own pruner
        previous_pruner = {"name": "median", "options": {"n_startup_trials": 3, "n_warmup_steps": 0}}
    else:
        previous_pruner = {"name": "hyperband"}
    return [
        Arm("tpe-global", "single lr, cosine; multivariate TPE (4 start-up trials, as the new default), no pruning "
            "(baseline)", {**single_space(setup), "sampler": NEW_SAMPLER, "pruner": none}),
        Arm("random-global", "single lr, cosine; random search, no pruning",
            {**single_space(setup), "sampler": {"name": "random"}, "pruner": none}),
        Arm("previous", "previous default per-group space (own settings and shapes per group), TPE, "
            + ("Hyperband" if previous_pruner["name"] == "hyperband" else "median pruning"),
            {**previous_space(setup), "sampler": {"name": "tpe", "options": {}}, "pruner": previous_pruner,
             "search": {"recipes": "none"}}),
        Arm("default", "nested per-group space + auto recipes; multivariate TPE (4 start-up); successive halving",
            {**nested_space(setup), "sampler": NEW_SAMPLER, "pruner": NEW_PRUNER, "budget": budget,
             "search": {"recipes": "auto"}}),
        Arm("staged", "nested space + recipes; stage 1 (50% of epochs) single-lr, stage 2 per-group dimensions",
            {**nested_space(setup), "sampler": NEW_SAMPLER, "pruner": NEW_PRUNER, "budget": budget,
             "search": {"recipes": "auto", "strategy": "staged", "stage1_epochs": setup.epochs * setup.trials // 2}}),
        Arm("recipes", "no search: the auto recipes trained once each, the best by validation confirmed",
            {**nested_space(setup), "sampler": NEW_SAMPLER, "pruner": none, "search": {"recipes": "auto"}}),
        Arm("sf-global", "tpe-global with schedule-free AdamW/SGD, constant schedule",
            {**single_space(setup, True), "sampler": NEW_SAMPLER, "pruner": none}),
        Arm("sf-default", "default with schedule-free AdamW/SGD, constant schedule",
            {**nested_space(setup, True), "sampler": NEW_SAMPLER, "pruner": NEW_PRUNER, "budget": budget,
             "search": {"recipes": "auto"}}),
        Arm("sf-plain", "sf-default with lrsearch's previous silent sampler and pruner: Optuna's TPE defaults (10 "
            "random start-up trials, independent) and median pruning",
            {**nested_space(setup, True), "sampler": {"name": "tpe", "options": {}},
             "pruner": {"name": "median", "options": {"n_startup_trials": 5, "n_warmup_steps": 1}},
             "budget": budget, "search": {"recipes": "auto"}}),
    ]


@dataclass
class ValueRun:
    search: SearchRun
    curves: list[list[float]]  # validation value per epoch of every trial that ran all its epochs
    best_origin: str


def _recipe_count(base: dict[str, Any], arm: Arm) -> int:
    from lrsearch.config import parse_spec
    from lrsearch.search import resolve_recipes

    return len(resolve_recipes(parse_spec({**base, **arm.spec, "name": "count", "storage": "sqlite://"})))


def value_search(base: dict[str, Any], arm: Arm, seed: int, budget: int, workdir: str, confirm_seeds: int) -> ValueRun:
    """One search and the confirmation of its best trial (a process-pool task: plain arguments)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if arm.key == "recipes":
            budget = _recipe_count(base, arm) * base["budget"]["epochs"]
        handle, run = run_search(base, arm, seed, budget, Path(workdir))
        if not run.history:
            raise RuntimeError(f"search {arm.key} (seed {seed}) completed no trial within {budget} epochs")
        run.held_out = confirm_best(handle, confirm_seeds)
        trials = handle.study.get_trials(deepcopy=False)
        epochs = handle.spec.budget.epochs
        curves = [[t.intermediate_values[e] for e in range(1, epochs + 1)] for t in trials
                  if t.state == optuna.trial.TrialState.COMPLETE and len(t.intermediate_values) == epochs]
        best = handle.study.best_trial
        origin = [f"recipe {best.user_attrs['recipe']}"] if "recipe" in best.user_attrs else []
        if "stage" in best.user_attrs:
            origin.append(f"stage {best.user_attrs['stage']}")
    return ValueRun(run, curves, ", ".join(origin) or "sampler")


def spearman(xs: list[float], ys: list[float]) -> float:
    from scipy.stats import spearmanr

    if len(xs) < 3:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(spearmanr(xs, ys).statistic)


def paired_ci(deltas: list[float]) -> tuple[float, float, float]:
    """Mean and 95% t-interval of paired differences."""
    from scipy.stats import t

    n = len(deltas)
    mean = statistics.mean(deltas)
    if n < 2:
        return mean, float("nan"), float("nan")
    half = t.ppf(0.975, n - 1) * statistics.stdev(deltas) / math.sqrt(n)
    return mean, mean - half, mean + half


def task_rows(task: str, task_arms: list[Arm], runs: dict[str, list[ValueRun]]) -> list[dict[str, Any]]:
    base = {r.search.seed: r.search for r in runs["tpe-global"]}
    rows = []
    for arm in task_arms:
        arm_runs = runs[arm.key]
        held = [statistics.mean(r.search.held_out) for r in arm_runs]
        deltas = [100 * (statistics.mean(r.search.held_out) - statistics.mean(base[r.search.seed].held_out))
                  for r in arm_runs]
        mean, low, high = paired_ci(deltas)
        wins = sum(d > 0 for d in deltas)
        ties = sum(d == 0 for d in deltas)
        reach = [r.search.epochs_to_reach(base[r.search.seed].best_value) for r in arm_runs]
        spent = [e if e is not None else r.search.epochs for e, r in zip(reach, arm_runs, strict=True)]
        origins = [r.best_origin for r in arm_runs]
        rows.append({
            "task": task,
            "arm": arm.key,
            "epochs used": statistics.mean(r.search.epochs for r in arm_runs),
            "complete/pruned": f"{statistics.mean(r.search.trials for r in arm_runs):.1f}/"
                               f"{statistics.mean(r.search.pruned for r in arm_runs):.1f}",
            "best val (biased)": pm([r.search.best_value for r in arm_runs]),
            "confirmed test": pm(held),
            "Δ vs baseline, points [95% CI]": "0" if arm.key == "tpe-global" else f"{mean:+.2f} [{low:+.2f}, {high:+.2f}]",
            "wins/ties/losses": "-" if arm.key == "tpe-global" else f"{wins}/{ties}/{len(deltas) - wins - ties}",
            "epochs to baseline's best val": f"{statistics.mean(spent):.0f} ({sum(e is not None for e in reach)}/"
                                             f"{len(reach)} reached)",
            "best trial from": ", ".join(f"{o} x{origins.count(o)}" for o in dict.fromkeys(origins)),
        })
    return rows


def rank_rows(task: str, runs: dict[str, list[ValueRun]]) -> list[str]:
    """Spearman correlation, across a search's full-length trials, of the value at early epochs and the last."""
    lines = []
    for key in ("tpe-global", "random-global", "sf-global"):
        if key not in runs:
            continue
        parts = []
        for rung in RUNGS:
            rhos = [spearman([c[rung - 1] for c in r.curves], [c[-1] for c in r.curves]) for r in runs[key]]
            rhos = [x for x in rhos if not math.isnan(x)]
            if rhos:
                parts.append(f"epoch {rung}: {statistics.mean(rhos):.2f} ± {statistics.stdev(rhos) if len(rhos) > 1 else 0:.2f}")
        lines.append(f"{task} `{key}`: " + "; ".join(parts))
    return lines


def run(quick: bool = False) -> Result:
    try:
        import scipy  # noqa: F401
    except ImportError as exc:
        raise Skip("needs scipy (pip install 'lrsearch[samplers]')") from exc
    from lrsearch.optim import optimizer_names

    if "adamw_schedulefree" not in optimizer_names():
        raise Skip("needs the schedulefree package (pip install 'lrsearch[schedulefree]')")
    tasks = ["digits-transfer"] if quick else [t for t in os.environ.get("LRSEARCH_VALUE_TASKS", ",".join(TASKS)).split(",") if t]
    unknown = [t for t in tasks if t not in SETUPS]
    if unknown:
        raise ValueError(f"LRSEARCH_VALUE_TASKS: unknown task(s) {', '.join(unknown)}; known: {', '.join(SETUPS)}")
    seeds = list(range(1 if quick else int(os.environ.get("LRSEARCH_VALUE_SEEDS") or SEEDS)))
    confirm_n = 1 if quick else CONFIRM_SEEDS
    jobs = 1 if quick else parallel_jobs()
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    details: dict[str, Any] = {}
    budgets: list[str] = []
    for task in tasks:
        setup = replace(SETUPS[task], epochs=3, trials=3) if quick else SETUPS[task]
        epochs, trials = setup.epochs, setup.trials
        budgets.append(f"{task} {epochs * trials} ({trials} x {epochs})")
        wanted = os.environ.get("LRSEARCH_VALUE_ARMS", ",".join(ARMS))
        task_arms = [a for a in arms(setup) if wanted == "all" or a.key in wanted.split(",")]
        if quick:
            task_arms = [a for a in task_arms if a.key in ("tpe-global", "default", "staged", "recipes", "sf-global")]
        base = {
            "objective": {"metric": "val_accuracy", "direction": "maximize"},
            "budget": {"trials": 10_000, "epochs": epochs},
            "task": {**setup.task, "device": os.environ.get("LRSEARCH_VALUE_DEVICE", "cpu"), "threads": 1},
        }
        print(f"-- {task}: {len(task_arms)} arms x {len(seeds)} seeds, {epochs * trials} epochs a search", flush=True)
        runs = _run_all(base, task_arms, seeds, epochs * trials, confirm_n, jobs)
        rows += task_rows(task, task_arms, runs)
        notes += rank_rows(task, runs)
        details[task] = [{"arm": k, "seed": r.search.seed, "held_out": r.search.held_out,
                          "best_value": r.search.best_value, "best_params": r.search.best_params,
                          "epochs": r.search.epochs, "trials": r.search.trials, "pruned": r.search.pruned,
                          "origin": r.best_origin, "seconds": r.search.seconds}
                         for k, rs in runs.items() for r in rs]
    shown = {r["arm"] for r in rows}
    notes.insert(0, "Arms: " + "; ".join(f"`{a.key}`: {a.description}" for a in arms(SETUPS["digits-transfer"])
                                         if a.key in shown) + ".")
    notes.insert(1, f"Budget, epochs a search (whole trials x epochs a trial; pruned epochs count): "
                    f"{', '.join(budgets)}; `recipes` uses only its recipes' epochs. Confirmed test: the search's best trial "
                    f"by validation retrained with {confirm_n} fresh seeds (`lrsearch.results.confirm_top`), test "
                    "accuracy, mean ± sd over search seeds. Δ: paired by search seed against `tpe-global`, "
                    "percentage points, mean and 95% t-interval. Epochs to baseline's best val: epochs spent when "
                    "a completed trial first reached the validation score of the baseline's best trial (same seed); "
                    "a search that never did counts all its epochs.")
    notes.insert(2, "Rank correlation (Spearman, across each search's trials that ran every epoch, mean ± sd over "
                    "seeds) of the validation accuracy at an early epoch with the last epoch's:")
    return Result("value", TITLE, rows, notes=notes, seeds=seeds, details=details)


def _run_all(base: dict[str, Any], task_arms: list[Arm], seeds: list[int], budget: int, confirm_seeds: int,
             jobs: int) -> dict[str, list[ValueRun]]:
    import multiprocessing
    import tempfile
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from benchmarks.suites.search import scratch_dir

    done: dict[tuple[int, str], ValueRun] = {}

    def show(r: ValueRun) -> None:
        s = r.search
        print(f"  {s.arm:>13} seed {s.seed}: {s.trials} complete, {s.pruned} pruned, {s.epochs} epochs, best val "
              f"{s.best_value:.4f}, held-out {statistics.mean(s.held_out):.4f}, best from {r.best_origin}, "
              f"{s.seconds:.0f}s", flush=True)

    order = [(seed, arm) for seed in seeds for arm in task_arms]
    with tempfile.TemporaryDirectory(prefix="lrsearch-value-", dir=scratch_dir()) as tmp:
        if jobs <= 1:
            for seed, arm in order:
                done[seed, arm.key] = r = value_search(base, arm, seed, budget, tmp, confirm_seeds)
                show(r)
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                futures = [pool.submit(value_search, base, arm, seed, budget, tmp, confirm_seeds) for seed, arm in order]
                for future in as_completed(futures):
                    r = future.result()
                    done[r.search.seed, r.search.arm] = r
                    show(r)
    return {arm.key: [done[seed, arm.key] for seed in seeds] for arm in task_arms}
