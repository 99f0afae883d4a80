"""Transfer learning on real pretrained weights: per-group search against a single global lr, at equal epochs.

EfficientNet-Lite0 (ImageNet weights) fine-tuned on Fashion-MNIST at CPU size (2,000 training images at
32 px, 3 epochs a trial). Two searches per search seed, through lrsearch's own path (``open_study`` +
``run_here``, SQLite), with the same sampler (TPE, same seed), task, training loop and epoch budget:

- ``lrsearch``: the space of ``studies/transfer_effnet_fashion.yaml``: backbone lr, head lr as a ratio of it,
  a frozen first epoch or not, a schedule shape per group; median pruning;
- ``tpe-global`` (the baseline): one lr for every parameter, a fixed cosine schedule, no pruning.

Each search's best trial (by validation accuracy) is retrained with fresh seeds by lrsearch's ``confirm`` and
scored on the held-out test split; searches are compared by that, not by their (upward-biased) best
validation score. Searches run in worker processes, one CPU thread each, (seed, arm) pairs interleaved so that
drift in machine load touches both arms alike.
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import yaml

from benchmarks._common import Result, Skip, mean_sd, pm
from benchmarks.suites.search import Arm, SearchRun, confirm_best, run_search, scratch_dir

TITLE = "Transfer learning (EfficientNet-Lite0 -> Fashion-MNIST): per-group search vs a single global lr"
DEFAULT = False  # about an hour of CPU

STUDY = Path(__file__).resolve().parents[2] / "studies" / "transfer_effnet_fashion.yaml"
BUDGET_TRIALS = 8  # a search's budget is this many whole trials' worth of epochs
SEEDS = (0, 1, 2)
CONFIRM_SEEDS = 3
JOBS = int(os.environ.get("LRSEARCH_BENCH_JOBS", "2"))


def arms(study: dict[str, Any]) -> list[Arm]:
    per_group = {k: study[k] for k in ("optimizer", "groups", "schedule", "sampler", "pruner")}
    single = {
        "optimizer": study["optimizer"],
        "groups": [{"name": "all", "rest": True, "lr": study["groups"][0]["lr"],
                    "weight_decay": study["groups"][0]["weight_decay"]}],
        "schedule": {"shape": "cosine"},
        "sampler": study["sampler"],
        "pruner": {"name": "none"},
    }
    return [
        Arm("tpe-global", "one lr for every parameter (same range as the backbone's), fixed cosine schedule; "
            "TPE, no pruning (baseline)", single),
        Arm("lrsearch", "studies/transfer_effnet_fashion.yaml: backbone lr, head lr ratio, backbone frozen for "
            "0-1 epochs, a shape per group; TPE + median pruning", per_group),
    ]


def base_spec(study: dict[str, Any], quick: bool) -> dict[str, Any]:
    task = {**study["task"], "device": "cpu", "threads": 1}
    if quick:
        task["options"] = {**task["options"], "train_size": 64, "val_size": 64, "test_size": 64}
    return {
        "objective": study["objective"],
        "budget": {"trials": 10_000, "epochs": 2 if quick else study["budget"]["epochs"]},
        "task": task,
    }


def _search(base: dict[str, Any], arm: Arm, seed: int, budget: int, confirm_n: int) -> SearchRun:
    """One search and the confirmation of its best trial, in a worker process."""
    import optuna
    import torch

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    with tempfile.TemporaryDirectory(prefix="lrsearch-transfer-", dir=scratch_dir()) as tmp:
        handle, run = run_search(base, arm, seed, budget, Path(tmp))
        if not run.history:
            raise RuntimeError(f"search {arm.key} (seed {seed}) completed no trial within {budget} epochs "
                               f"({run.pruned} pruned, {run.failed} failed: {_fail_reasons(handle)})")
        run.held_out = confirm_best(handle, confirm_n)
    print(f"  {arm.key:>10} seed {seed}: {run.trials} complete, {run.pruned} pruned, {run.epochs} epochs, best val "
          f"{run.best_value:.4f}, confirmed test {statistics.mean(run.held_out):.4f} {run.held_out}, "
          f"{run.seconds:.0f}s search", flush=True)
    return run


def _fail_reasons(handle: Any) -> str:
    """What the failed trials of a search recorded, one line each (why a search completed nothing)."""
    reasons = []
    for trial in handle.study.trials:
        info = handle.store.trial_info(handle.name, trial.number) or {}
        if info.get("fail_reason"):
            first = (info.get("error") or "").strip().splitlines()[-1:] or [""]
            reasons.append(f"#{trial.number} {info['fail_reason']}: {first[0][:200]}")
    return "; ".join(reasons) or "none recorded"


def check_available(base: dict[str, Any]) -> None:
    """Skip (with what to install) where the task cannot be built: no effnet extra, no Fashion-MNIST."""
    from lrsearch.errors import LrsearchError
    from lrsearch.tasks import load_task

    try:
        load_task(base["task"]["builtin"], None, base["task"]["options"])
    except LrsearchError as exc:
        raise Skip(str(exc)) from None


def welch(a: list[float], b: list[float]) -> tuple[float, float]:
    """Welch's t statistic and two-sided p-value of mean(a) - mean(b) (p from scipy when installed)."""
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    if va + vb == 0:
        return float("nan"), float("nan")
    t = (statistics.mean(a) - statistics.mean(b)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    try:
        from scipy import stats
    except ImportError:
        return t, float("nan")
    return t, float(2 * stats.t.sf(abs(t), df))


def run(quick: bool = False) -> Result:
    study = yaml.safe_load(STUDY.read_text())
    seeds = SEEDS[:1] if quick else SEEDS
    confirm_n = 1 if quick else CONFIRM_SEEDS
    base = base_spec(study, quick)
    check_available(base)
    budget = base["budget"]["epochs"] * (2 if quick else BUDGET_TRIALS)
    the_arms = arms(study)
    jobs = [(arm, seed) for seed in seeds for arm in the_arms]
    runs: dict[str, list[SearchRun]] = {arm.key: [] for arm in the_arms}
    if quick or JOBS <= 1:
        done = [_search(base, arm, seed, budget, confirm_n) for arm, seed in jobs]
    else:
        with ProcessPoolExecutor(max_workers=JOBS, mp_context=get_context("spawn")) as pool:
            done = list(pool.map(_search, *zip(*[(base, arm, seed, budget, confirm_n) for arm, seed in jobs],
                                               strict=True)))
    for run_ in done:
        runs[run_.arm].append(run_)

    rows, confirmed = [], {}
    for arm in the_arms:
        arm_runs = sorted(runs[arm.key], key=lambda r: r.seed)
        confirmed[arm.key] = [statistics.mean(r.held_out) for r in arm_runs]
        retrain_sd = [statistics.stdev(r.held_out) for r in arm_runs if len(r.held_out) > 1]
        rows.append({
            "search": arm.key,
            "complete/pruned trials": f"{sum(r.trials for r in arm_runs)}/{sum(r.pruned for r in arm_runs)}",
            "epochs used (mean)": statistics.mean(r.epochs for r in arm_runs),
            "best val (biased)": pm([r.best_value for r in arm_runs]),
            "confirmed test accuracy": pm(confirmed[arm.key]),
            "per search seed": ", ".join(f"{v:.3f}" for v in confirmed[arm.key]),
            "retrain sd (mean)": statistics.mean(retrain_sd) if retrain_sd else float("nan"),
            "search s (mean)": statistics.mean(r.seconds for r in arm_runs),
        })
    notes = [
        "Searches: " + "; ".join(f"`{a.key}`: {a.description}" for a in the_arms) + ".",
        f"Budget: {budget} epochs per search ({budget // base['budget']['epochs']} whole trials of "
        f"{base['budget']['epochs']} epochs; a search starts a trial only while a whole one still fits, so pruning "
        f"buys extra trials). Sampler TPE seeded with the search seed, {study['sampler']['options']}.",
        f"Confirmed: `lrsearch.results.confirm_top` (top 1): the best trial by validation accuracy retrained with "
        f"{confirm_n} fresh seed(s), scored on {base['task']['options'].get('test_size', 2000)} held-out test images; "
        "mean ± sd over search seeds of each search's mean. Retrain sd: the sd between those fresh-seed retrains.",
    ]
    if len(seeds) > 1:
        diff = [a - b for a, b in zip(confirmed["lrsearch"], confirmed["tpe-global"], strict=True)]
        t, p = welch(confirmed["lrsearch"], confirmed["tpe-global"])
        mean_diff, sd_diff = mean_sd(diff)
        notes.append(f"lrsearch - tpe-global, same search seed: {100 * mean_diff:+.1f} ± {100 * sd_diff:.1f} points "
                     f"(n={len(diff)}); Welch t = {t:.2f}, p = {p:.2g}.")
    return Result("transfer", TITLE, rows, notes=notes, seeds=list(seeds),
                  details={"runs": [asdict(r) for rs in runs.values() for r in rs]})
