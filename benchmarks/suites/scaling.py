"""Trial throughput of worker processes: 2 workers against 1 on this machine, with real (small) training.

Each variant runs the same study (digits, a per-group SGD/AdamW space, no pruning, so every trial trains all its
epochs) on a fresh SQLite file through ``run_workers``. Throughput = finished trials per hour between the first
and the last trial's completion (worker start-up and warm-up, a one-time cost, left out), and also over the whole
wall time. Baselines in the same run: 1 worker with 1 thread, and 1 worker with every core as threads (the other
way to use the machine). Target on 2 cores: 2 workers >= 1.6x one single-thread worker.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import optuna

from benchmarks._common import Result

TITLE = "Worker scaling: trials/hour of 2 worker processes vs 1 (digits, real training)"
DEFAULT = True
TARGET = 1.6


def study_spec(name: str, storage: str, trials: int, epochs: int, threads: int) -> Any:
    from lrsearch.config import parse_spec

    return parse_spec({
        "name": name, "storage": storage,
        "objective": {"metric": "val_accuracy", "direction": "maximize"},
        "budget": {"trials": trials, "epochs": epochs},
        "sampler": {"name": "tpe", "seed": 0},
        "pruner": {"name": "none"},
        "task": {"builtin": "digits", "batch_size": 64, "device": "cpu", "threads": threads},
        "optimizer": {"name": {"choices": ["sgd", "adamw"]}},
        "groups": [
            {"name": "head", "params": ["head.*"], "lr": {"low": 1e-3, "high": 0.3, "log": True}},
            {"name": "backbone", "rest": True, "lr": {"ratio_of": "head", "low": 0.03, "high": 3.0, "log": True}},
        ],
        "schedule": {"per_group": True, "shape": ["constant", "cosine", "onecycle"]},
    })


def measure(tmp: Path, *, workers: int, threads: int, trials: int, epochs: int) -> dict[str, float]:
    from lrsearch.runner import open_study
    from lrsearch.runner.workers import run_workers

    url = f"sqlite:///{tmp / uuid.uuid4().hex[:8]}.db"
    handle = open_study(study_spec(f"scale-{workers}w{threads}t", url, trials, epochs, threads), url)
    started = time.perf_counter()
    summary = run_workers(handle, workers=workers, devices="cpu", progress=None, log_dir=tmp / "logs")
    wall = time.perf_counter() - started
    if summary.stopped_by != "budget" or summary.count("FAIL"):
        raise RuntimeError(f"scaling run stopped by {summary.stopped_by} with {summary.count('FAIL')} failures")
    done = sorted(t.datetime_complete for t in handle.study.get_trials(deepcopy=False) if t.datetime_complete)
    steady = (done[-1] - done[0]).total_seconds()
    return {"steady": 3600 * (len(done) - 1) / steady, "wall": 3600 * len(done) / wall}


def run(quick: bool = False, trials: int | None = None, reps: int | None = None) -> Result:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = trials or (8 if quick else 120)
    reps = reps or (1 if quick else 2)
    epochs = 2 if quick else 4
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    variants = [(1, 1), (1, cores), (2, 1)]
    results: dict[tuple[int, int], list[dict[str, float]]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory(prefix="lrsearch-scaling-") as tmp:
        for _ in range(reps):
            for workers, threads in variants:
                results[(workers, threads)].append(
                    measure(Path(tmp), workers=workers, threads=threads, trials=trials, epochs=epochs))
    base = statistics.median(r["steady"] for r in results[(1, 1)])
    rows = []
    for (workers, threads), values in results.items():
        steady = statistics.median(v["steady"] for v in values)
        row: dict[str, Any] = {
            "workers": workers, "threads each": threads, "trials": trials, "epochs": epochs,
            "trials/hour (steady)": steady, "trials/hour (wall, with start-up)": statistics.median(v["wall"] for v in values),
            "ratio vs 1 worker x 1 thread": steady / base, "target": "", "ok": None,
        }
        if (workers, threads) == (2, 1):
            row["target"], row["ok"] = f">= {TARGET}", steady / base >= TARGET
        rows.append(row)
    notes = [f"medians of {reps} alternating round(s); {cores} usable cores; SQLite (WAL) storage; "
             "threads: torch CPU threads per trial"]
    return Result("scaling", TITLE, rows, notes=notes, seeds=[0])
