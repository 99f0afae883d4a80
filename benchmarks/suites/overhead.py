"""Per-trial orchestration overhead: lrsearch's trial paths against plain ``optuna`` ``study.optimize``.

Every variant runs the same trivial objective (5 reports a trial, should_prune after each), the same sampler
(TPE, seed 0) and pruner (median), on a fresh database of the same kind. lrsearch's paths do the real per-trial
work of a study: budget check under the budget lock, sampling through ``SearchSpace``, the ``lrsearch_trials``
row, a metrics row and per-group rows per epoch (a tiny model's optimizer supplies the groups), report/prune,
tell, and the trial's log file. No torch training: ``trivial_train`` only reports.

Per-trial time = (last trial's completion - first trial's completion) / (trials - 1), read from Optuna's own
timestamps, so one-time costs (a worker's start-up and torch import, the first optimizer's lazy imports) are
counted against no variant. Baselines: plain Optuna on
the same file with the same engine settings (SQLite in WAL mode, synchronous=NORMAL), on a default SQLite file
(rollback journal, an fsync per commit), and on PostgreSQL. Target: lrsearch / plain <= 1.25 on the same
storage, and <= 40 ms a trial on lrsearch's default storage (SQLite WAL).
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import tempfile
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna

from benchmarks._common import Result

TITLE = "Per-trial orchestration overhead: lrsearch's worker and in-process paths vs plain Optuna"
DEFAULT = True
REPORTS = 5
TARGET_RATIO = 1.25
TARGET_MS = 40.0
REFERENCE_ONLY = ("memory", "sqlite (default file)")


def trivial_train(ctx: Any) -> dict[str, float]:
    """An own-loop ``task.train`` that only reports: lrsearch's per-trial path without training."""
    from torch import nn

    model = nn.Sequential(OrderedDict(body=nn.Linear(2, 2), head=nn.Linear(2, 1)))
    ctx.optimizer(model)  # per-group rows come from the optimizer's groups
    lrs = [g.lr for g in ctx.config.groups()]
    metrics: dict[str, float] = {}
    for epoch in range(1, REPORTS + 1):
        metrics = {"score": _score(lrs, epoch)}
        ctx.report(epoch, metrics)
    return metrics


def _score(lrs: list[float], epoch: int) -> float:
    return sum((math.log10(lr) + 2.0) ** 2 for lr in lrs) + 1.0 / epoch


def trivial_spec(name: str, storage: str, trials: int) -> Any:
    from lrsearch.config import parse_spec

    return parse_spec({
        "name": name, "storage": storage,
        "objective": {"metric": "score", "direction": "minimize"},
        "budget": {"trials": trials, "epochs": REPORTS},
        "sampler": {"name": "tpe", "seed": 0},
        "pruner": {"name": "median"},
        "task": {"train": "benchmarks.suites.overhead:trivial_train", "device": "cpu", "threads": 1},
        "optimizer": {"name": "sgd"},
        "groups": [
            {"name": "head", "params": ["head.*"], "lr": {"low": 1e-4, "high": 1.0, "log": True}},
            {"name": "body", "rest": True, "lr": {"low": 1e-4, "high": 1.0, "log": True}},
        ],
    })


def _plain_objective(trial: optuna.Trial) -> float:
    lrs = [trial.suggest_float(name, 1e-4, 1.0, log=True) for name in ("head.lr", "body.lr")]
    value = 0.0
    for epoch in range(1, REPORTS + 1):
        value = _score(lrs, epoch)
        trial.report(value, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return value


def _per_trial_ms(study: optuna.Study, trials: int) -> float:
    """From the first trial's completion to the last's, per trial: the first trial, which pays one-time imports
    (torch's optimizer machinery, a worker's start-up), is left out on every side."""
    done = sorted((t for t in study.get_trials(deepcopy=False) if t.state.is_finished()),
                  key=lambda t: t.datetime_complete)
    if len(done) < trials:
        raise RuntimeError(f"study {study.study_name} finished {len(done)} of {trials} trials")
    span = done[-1].datetime_complete - done[0].datetime_complete
    return span.total_seconds() * 1000 / (len(done) - 1)


def _sampler_and_pruner() -> tuple[optuna.samplers.BaseSampler, optuna.pruners.BasePruner]:
    from lrsearch.config import build_pruner, build_sampler

    return build_sampler("tpe", 0, {}, conditional=False), build_pruner("median", {}, REPORTS)


def plain_optuna(storage: Any, trials: int) -> float:
    """ms a trial of plain ``study.optimize`` on ``storage`` (a URL, an RDBStorage, or None for in memory)."""
    sampler, pruner = _sampler_and_pruner()
    study = optuna.create_study(storage=storage, sampler=sampler, pruner=pruner, direction="minimize",
                                study_name=f"plain-{uuid.uuid4().hex[:6]}")
    study.optimize(_plain_objective, n_trials=trials)
    return _per_trial_ms(study, trials)


def lrsearch_path(url: str, trials: int, *, workers: int, log_dir: Path) -> float:
    """ms a trial of lrsearch: in this process (workers=0) or in ``workers`` worker processes."""
    from lrsearch.runner import open_study, run_here

    spec = trivial_spec(f"lrs-{uuid.uuid4().hex[:6]}", url, trials)
    handle = open_study(spec, url)
    os.environ["LRSEARCH_LOG_DIR"] = str(log_dir)
    if workers == 0:
        summary = run_here(handle, progress=None)
    else:
        from lrsearch.runner.workers import run_workers

        summary = run_workers(handle, workers=workers, progress=None)
    if summary.stopped_by != "budget":
        raise RuntimeError(f"lrsearch run stopped by {summary.stopped_by}")
    return _per_trial_ms(handle.study, trials)


@contextmanager
def postgres_database(base: str) -> Iterator[str]:
    import sqlalchemy as sa

    name = f"lrsearch_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        from lrsearch.storage import lrsearch_engine, optuna_storage

        for cached in (optuna_storage, lrsearch_engine):
            cached.cache_clear()
        with admin.connect() as conn:
            conn.execute(sa.text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _variants(tmp: Path, pg_base: str | None) -> list[tuple[str, str, Callable[[int], float]]]:
    """``(storage, variant, measure(trials) -> ms a trial)``; each call uses a fresh database."""
    from lrsearch.storage import optuna_storage

    def sqlite_url() -> str:
        return f"sqlite:///{tmp / uuid.uuid4().hex[:8]}.db"

    def on_sqlite(fn: Callable[[str, int], float]) -> Callable[[int], float]:
        return lambda n: fn(sqlite_url(), n)

    def on_postgres(fn: Callable[[str, int], float]) -> Callable[[int], float]:
        def measure(n: int) -> float:
            assert pg_base is not None
            with postgres_database(pg_base) as url:
                return fn(url, n)
        return measure

    logs = tmp / "logs"
    variants: list[tuple[str, str, Callable[[int], float]]] = [
        ("memory", "optuna", lambda n: plain_optuna(None, n)),
        ("sqlite (default file)", "optuna", on_sqlite(lambda url, n: plain_optuna(url, n))),
        ("sqlite WAL", "optuna", on_sqlite(lambda url, n: plain_optuna(optuna_storage(url, heartbeat=False), n))),
        ("sqlite WAL", "lrsearch in-process", on_sqlite(lambda url, n: lrsearch_path(url, n, workers=0, log_dir=logs))),
        ("sqlite WAL", "lrsearch worker", on_sqlite(lambda url, n: lrsearch_path(url, n, workers=1, log_dir=logs))),
    ]
    if pg_base:
        variants += [
            ("postgresql", "optuna", on_postgres(lambda url, n: plain_optuna(optuna_storage(url, heartbeat=False), n))),
            ("postgresql", "lrsearch in-process", on_postgres(lambda url, n: lrsearch_path(url, n, workers=0, log_dir=logs))),
            ("postgresql", "lrsearch worker", on_postgres(lambda url, n: lrsearch_path(url, n, workers=1, log_dir=logs))),
        ]
    return variants


def run(quick: bool = False, trials: int | None = None, reps: int | None = None) -> Result:
    """Every variant at ``trials`` trials, in ``reps`` alternating rounds; ratios are medians of the ratios paired
    within a round (so that drift in the machine's load hits both sides of each ratio)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = trials or (40 if quick else 200)
    reps = reps or (1 if quick else 5)
    pg_base = os.environ.get("LRSEARCH_BENCH_POSTGRES_URL") or os.environ.get("LRSEARCH_TEST_POSTGRES_URL")
    if str(Path.cwd()) not in sys.path:
        sys.path.append(str(Path.cwd()))  # worker processes import trivial_train from here
    import torch

    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # torch's lazy optimizer imports, once
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="lrsearch-bench-") as tmp:
        variants = _variants(Path(tmp), pg_base)
        for round_ in range(reps):
            for storage, variant, measure in variants:
                if round_ and storage in REFERENCE_ONLY:
                    continue  # references, not compared: one round is enough
                times.setdefault((storage, variant), []).append(measure(trials))
    rows = []
    for (storage, variant), values in times.items():
        ms = statistics.median(values)
        base = times.get((storage, "optuna"))
        ratio = None
        if base and variant != "optuna":
            ratio = statistics.median(v / b for v, b in zip(values, base, strict=True))
        row: dict[str, Any] = {"storage": storage, "path": variant, "trials": trials, "rounds": len(values),
                               "ms/trial": ms, "ratio vs optuna (same storage)": ratio, "target": "", "ok": None}
        if ratio is not None:
            row["target"] = f"<= {TARGET_RATIO}" + (f", <= {TARGET_MS:g} ms" if storage == "sqlite WAL" else "")
            row["ok"] = ratio <= TARGET_RATIO and (storage != "sqlite WAL" or ms <= TARGET_MS)
        rows.append(row)
    notes = [f"medians over rounds; ratio: median of the per-round ratios; {REPORTS} reports a trial; TPE seed 0, "
             "median pruner; one process per lrsearch worker, the supervisor in this process"]
    if not pg_base:
        notes.append("PostgreSQL rows skipped: set LRSEARCH_BENCH_POSTGRES_URL (or LRSEARCH_TEST_POSTGRES_URL)")
    return Result("overhead", TITLE, rows, notes=notes, seeds=[0])
