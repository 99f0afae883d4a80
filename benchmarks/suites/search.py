"""Search efficiency on digits-transfer: lrsearch's default search against single-lr TPE and random search.

Four searches per seed, each through lrsearch's own path (``open_study`` + ``run_here``, SQLite), on the same
task, with the same training loop and the same epoch budget:

- ``lrsearch``: per-group space (head lr, backbone lr as a ratio of it, weight decay, momentum, backbone
  freezing, a schedule shape and warmup per group), TPE, Hyperband pruning;
- ``tpe-global`` (the baseline): one lr for every parameter, weight decay, momentum, a fixed cosine schedule,
  TPE, no pruning;
- ``random-global``: the same single-lr space, random sampling, no pruning;
- ``per-group-tpe`` (an ablation): lrsearch's per-group space with TPE and no pruning, to tell the space's
  share from the pruner's.

A search starts trials while a whole trial still fits in the budget, so a pruning search never spends more
epochs than the others. The best trial (by validation score) of each search is then retrained with fresh
seeds and scored on the held-out test split ("confirmed"); its validation score is shown beside that, since
the best of many noisy validation scores is biased upward.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import optuna

from benchmarks._common import Result, mean_sd, pm
from lrsearch.config import parse_spec
from lrsearch.runner import StudyHandle, open_study, run_here

TITLE = "Search efficiency on digits-transfer: per-group search with pruning vs single-lr TPE and random search"
DEFAULT = True

EPOCHS = 15
BUDGET_TRIALS = 25  # a search's budget is BUDGET_TRIALS whole trials' worth of epochs
SEEDS = (0, 1, 2, 3, 4)
CONFIRM_SEEDS = 3


@dataclass(frozen=True)
class Arm:
    """One way of searching: the spec keys that differ between arms (sampler, pruner, space)."""

    key: str
    description: str
    spec: dict[str, Any]


@dataclass
class SearchRun:
    """What one search did: its budget use, its completed trials in order, its best trial and held-out score."""

    arm: str
    seed: int
    epochs: int = 0
    trials: int = 0
    pruned: int = 0
    failed: int = 0
    # (epochs spent so far, value) after every COMPLETE trial, in the order trials finished
    history: list[tuple[int, float]] = field(default_factory=list)
    best_value: float = float("nan")
    best_params: dict[str, Any] = field(default_factory=dict)
    held_out: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def epochs_to_reach(self, target: float, maximize: bool = True) -> int | None:
        """Epochs spent when a completed trial first scored at least ``target``; None if none did."""
        for spent, value in self.history:
            if (value >= target) if maximize else (value <= target):
                return spent
        return None


def _sgd_or_adamw() -> dict[str, Any]:
    return {"name": {"choices": ["sgd", "adamw"]}, "weight_decay_exclude": ["bias", "norm"]}


def digits_arms(epochs: int) -> list[Arm]:
    freeze = [0, 2, 5] if epochs > 5 else [0, 1]
    per_group = {
        "optimizer": _sgd_or_adamw(),
        "groups": [
            {"name": "head", "params": ["head.*"], "lr": {"low": 1e-3, "high": 0.3, "log": True},
             "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True}},
            {"name": "backbone", "rest": True, "lr": {"ratio_of": "head", "low": 0.01, "high": 3.0, "log": True},
             "momentum": {"low": 0.8, "high": 0.98}, "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True},
             "freeze_epochs": {"choices": freeze}},
        ],
        "schedule": {"per_group": True, "shape": ["constant", "cosine", "onecycle", "wsd"],
                     "warmup": {"low": 0.0, "high": 0.2}},
    }
    single = {
        "optimizer": _sgd_or_adamw(),
        "groups": [{"name": "all", "rest": True, "lr": {"low": 1e-4, "high": 0.3, "log": True},
                    "momentum": {"low": 0.8, "high": 0.98}, "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True}}],
        "schedule": {"shape": "cosine"},
    }
    return [
        Arm("tpe-global", "single lr, fixed cosine schedule; TPE, no pruning (baseline)",
            {**single, "sampler": {"name": "tpe"}, "pruner": {"name": "none"}}),
        Arm("random-global", "single lr, fixed cosine schedule; random search, no pruning",
            {**single, "sampler": {"name": "random"}, "pruner": {"name": "none"}}),
        Arm("lrsearch", "per-group lr/wd/momentum/freezing + per-group schedule shape; TPE + Hyperband",
            {**per_group, "sampler": {"name": "tpe"}, "pruner": {"name": "hyperband"}}),
        Arm("per-group-tpe", "lrsearch's per-group space, TPE, no pruning (ablation: what the pruner adds)",
            {**per_group, "sampler": {"name": "tpe"}, "pruner": {"name": "none"}}),
    ]


def scratch_dir() -> str | None:
    """Where the searches' SQLite files go: a RAM disk when there is one (storage cost is not measured here)."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and _writable(shm) else None


def _writable(path: Path) -> bool:
    try:
        with tempfile.NamedTemporaryFile(dir=path):
            return True
    except OSError:
        return False


def run_search(base: dict[str, Any], arm: Arm, seed: int, budget: int, workdir: Path) -> tuple[StudyHandle, SearchRun]:
    """One search of ``arm`` with ``seed`` until no whole trial fits in ``budget`` epochs."""
    spec = {**base, **arm.spec, "name": f"{arm.key}-{seed}", "storage": f"sqlite:///{workdir / f'{arm.key}-{seed}.db'}"}
    # TPE's startup trials are random draws from the same seeded generator as RandomSampler's: offset the random
    # arms' seeds so that they are independent searches, not TPE's first trials again.
    offset = 10_000 if spec["sampler"]["name"] == "random" else 0
    spec["sampler"] = {**spec["sampler"], "seed": seed + offset}
    spec["task"] = {**spec["task"], "seed": 1000 * seed}
    handle = open_study(parse_spec(spec), spec["storage"])
    maximize = handle.spec.objective.direction == "maximize"
    epochs = handle.spec.budget.epochs
    run = SearchRun(arm=arm.key, seed=seed)
    started = time.perf_counter()
    while run.epochs + epochs <= budget:
        summary = run_here(handle, trials=run.trials + run.pruned + 1, progress=None)
        for outcome in summary.outcomes:
            run.epochs += outcome.epochs
            if outcome.state == "COMPLETE" and outcome.value is not None:
                run.trials += 1
                run.history.append((run.epochs, outcome.value))
            elif outcome.state == "PRUNED":
                run.pruned += 1
            else:
                run.failed += 1
        if summary.stopped_by != "budget":
            break
    run.seconds = time.perf_counter() - started
    if run.history:
        best = max(run.history, key=lambda h: h[1]) if maximize else min(run.history, key=lambda h: h[1])
        run.best_value = best[1]
        run.best_params = dict(handle.study.best_trial.params)
    return handle, run


def confirm_best(handle: StudyHandle, seeds: int) -> list[float]:
    """lrsearch's own confirmation of the search's best trial: retrained with ``seeds`` fresh seeds, scored on
    the held-out split; the score of each run."""
    from lrsearch.results import confirm_frame, confirm_top

    ranking = confirm_top(handle, top=1, seeds=seeds, progress=None)
    number = int(ranking["number"].iloc[0])
    runs = confirm_frame(handle.url, handle.name)
    done = runs[(runs["number"] == number) & (runs["state"] == "COMPLETE")]
    return [float(v) for v in done["value"]]


def compare(benchmark: str, arms: list[Arm], runs: dict[str, list[SearchRun]], baseline: str,
            held_out_name: str) -> list[dict[str, Any]]:
    """One row per arm: budget use, best validation (biased), held-out score, epochs to reach the baseline's best.

    Scores are higher-is-better (both suites maximize accuracy). Every ratio is against the baseline arm's
    searches with the same seeds, run in the same call.
    """
    base_runs = {r.seed: r for r in runs[baseline]}
    base_held = statistics.mean(statistics.mean(r.held_out) for r in base_runs.values())
    base_to_best = statistics.mean(_epochs_to(r, r.best_value) for r in base_runs.values())
    rows = []
    for arm in arms:
        arm_runs = runs[arm.key]
        held = [statistics.mean(r.held_out) for r in arm_runs]
        deltas = [100 * (statistics.mean(r.held_out) - statistics.mean(base_runs[r.seed].held_out)) for r in arm_runs]
        reach = [r.epochs_to_reach(base_runs[r.seed].best_value) for r in arm_runs]
        # a search that never reached the baseline's best counts with every epoch it spent (a lower bound)
        spent = [e if e is not None else r.epochs for e, r in zip(reach, arm_runs, strict=True)]
        rows.append({
            "benchmark": benchmark,
            "search": arm.key,
            "complete/pruned trials": f"{_avg([r.trials for r in arm_runs])}/{_avg([r.pruned for r in arm_runs])}",
            "epochs used": statistics.mean(r.epochs for r in arm_runs),
            "best val (biased)": pm([r.best_value for r in arm_runs]),
            f"confirmed {held_out_name}": pm(held),
            "Δ vs baseline (points)": pm(deltas, 1),
            "held-out ratio": statistics.mean(held) / base_held,
            "epochs to baseline's best": statistics.mean(spent),
            "reached": f"{sum(e is not None for e in reach)}/{len(reach)}",
            "epochs ratio": statistics.mean(spent) / base_to_best,
        })
    return rows


def _epochs_to(run: SearchRun, target: float) -> int:
    found = run.epochs_to_reach(target)
    return found if found is not None else run.epochs


def _avg(values: list[int]) -> str:
    mean = statistics.mean(values)
    return f"{mean:.0f}" if float(mean).is_integer() else f"{mean:.1f}"


def search_and_confirm(base: dict[str, Any], arm: Arm, seed: int, budget: int, workdir: str,
                       confirm_seeds: int) -> SearchRun:
    """One search, then lrsearch's confirmation of its best trial (a process-pool task: plain arguments)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        handle, run = run_search(base, arm, seed, budget, Path(workdir))
        if not run.history:
            raise RuntimeError(f"search {arm.key} (seed {seed}) completed no trial within {budget} epochs")
        run.held_out = confirm_best(handle, confirm_seeds)
    if not run.held_out:
        raise RuntimeError(f"search {arm.key} (seed {seed}): every confirmation run of its best trial failed")
    return run


def parallel_jobs() -> int:
    """Searches run at a time: ``$LRSEARCH_BENCH_JOBS``, else one per core (at most 4).

    Results do not depend on it: every search is seeded and trains on one thread, and the figures are epochs
    and scores, not seconds.
    """
    return int(os.environ.get("LRSEARCH_BENCH_JOBS") or min(os.cpu_count() or 1, 4))


def run_arms(base: dict[str, Any], arms: list[Arm], seeds: Sequence[int], budget: int, confirm_seeds: int,
             jobs: int = 1) -> dict[str, list[SearchRun]]:
    """Every arm with every seed, ``jobs`` searches at a time in separate processes."""
    order = [(seed, arm) for seed in seeds for arm in arms]
    done: dict[tuple[int, str], SearchRun] = {}

    def show(run: SearchRun) -> None:
        print(f"  {run.arm:>14} seed {run.seed}: {run.trials} complete, {run.pruned} pruned, {run.epochs} epochs, "
              f"best val {run.best_value:.4f}, held-out {statistics.mean(run.held_out):.4f}, {run.seconds:.0f}s",
              flush=True)

    with tempfile.TemporaryDirectory(prefix="lrsearch-bench-", dir=scratch_dir()) as tmp:
        if jobs <= 1:
            for seed, arm in order:
                done[seed, arm.key] = run = search_and_confirm(base, arm, seed, budget, tmp, confirm_seeds)
                show(run)
        else:
            context = multiprocessing.get_context("spawn")  # never fork a process that may hold torch threads
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                futures = [pool.submit(search_and_confirm, base, arm, seed, budget, tmp, confirm_seeds)
                           for seed, arm in order]
                for future in as_completed(futures):
                    run = future.result()
                    done[run.seed, run.arm] = run
                    show(run)
    return {arm.key: [done[seed, arm.key] for seed in seeds] for arm in arms}


def details(runs: dict[str, list[SearchRun]]) -> dict[str, Any]:
    return {"runs": [asdict(r) for arm_runs in runs.values() for r in arm_runs]}


def run(quick: bool = False) -> Result:
    epochs, trials = (3, 3) if quick else (EPOCHS, BUDGET_TRIALS)
    seeds = SEEDS[:1] if quick else SEEDS
    confirm_n = 1 if quick else CONFIRM_SEEDS
    base = {
        "objective": {"metric": "val_accuracy", "direction": "maximize"},
        "budget": {"trials": 10_000, "epochs": epochs},
        "task": {"builtin": "digits-transfer", "batch_size": 16, "device": "cpu", "threads": 1},
    }
    arms = digits_arms(epochs)

    jobs = 1 if quick else parallel_jobs()
    runs = run_arms(base, arms, seeds, epochs * trials, confirm_n, jobs)
    rows = compare("digits-transfer", arms, runs, "tpe-global", "test accuracy")
    wall = {arm.key: mean_sd([r.seconds for r in runs[arm.key]])[0] for arm in arms}
    notes = [
        "Searches: " + "; ".join(f"`{a.key}`: {a.description}" for a in arms) + ".",
        f"Budget: {epochs * trials} epochs per search ({trials} whole trials of {epochs} epochs); a search starts a "
        "trial only while a whole one still fits. digits-transfer: backbone pretrained on digits 0-4, new head "
        "fine-tuned on digits 5-9 with 10 labels a class; batch 16, 1 CPU thread.",
        f"Confirmed: lrsearch's `confirm` (`lrsearch.results.confirm_top`, top 1): the best trial by validation "
        f"accuracy, retrained with {confirm_n} fresh seed(s) and scored on the held-out test split; mean ± sd over "
        "search seeds of each search's mean. Best val is the search's own best validation accuracy (biased "
        "upward: the maximum of noisy scores).",
        "Epochs to baseline's best: epochs spent when a completed trial first matched the `tpe-global` search of "
        "the same seed at its best; a search that never did counts all its epochs. Epochs ratio: that, over the "
        "epochs the baseline itself spent to find its best. Held-out ratio: mean confirmed score over the "
        "baseline's.",
        f"Wall seconds per search ({jobs} at a time; SQLite on a RAM disk; not a timing benchmark): "
        + ", ".join(f"{k} {v:.0f}s" for k, v in wall.items()) + ".",
    ]
    return Result("search", TITLE, rows, notes=notes, seeds=list(seeds), details=details(runs))
