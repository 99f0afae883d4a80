"""Many worker processes on one PostgreSQL: 8, 16, 32 (and 64 where memory allows) against 1 worker.

Every variant runs the overhead suite's trivial objective (5 reports a trial, no training) through lrsearch's
worker path (``run_workers``: one supervisor, N spawned worker processes, each importing torch) on a fresh
database of a private PostgreSQL server started for the suite (``max_connections`` = 400, so that the measured
peak is not cut off, and a shared server's connections are not used up). Per variant:

- trials/s while all N workers run: completions after the N-th worker started its first trial, over the time to
  the last completion (the start-up of N torch processes on a small machine is left out);
- the median trial's wall time (ask -> tell) in that window, and the machine time a trial costs (1 / trials/s);
- the peak number of connections to the study's database (sampled from ``pg_stat_activity`` every 0.2 s), per
  worker, and against the server's ``max_connections``;
- exactness: finished trials == budget, no trial left RUNNING or WAITING, none failed, one lrsearch record per
  Optuna trial (none lost, none duplicated), every finished trial with all 5 epochs recorded.

Baseline in the same run: 1 worker process. On a 2-core machine the N workers share 2 cores, so trials/s cannot
grow with N; what this measures is what N costs: the advisory budget lock, connection count, latency.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import optuna

from benchmarks._common import Result

TITLE = "Many workers on one PostgreSQL: 8-64 worker processes vs 1 (trivial trials)"
DEFAULT = False
MAX_CONNECTIONS = 400
REPORTS = 5


def _budget(workers: int, quick: bool) -> int:
    return 10 + 2 * workers if quick else 100 + 4 * workers


class _Sampler(threading.Thread):
    """Peak connections to ``database`` and peak resident memory of this process's children, sampled."""

    def __init__(self, admin_url: str, database: str) -> None:
        super().__init__(daemon=True)
        import sqlalchemy as sa

        # Autocommit: inside one transaction pg_stat_activity would show the same snapshot at every sample.
        self.engine = sa.create_engine(admin_url, pool_size=1, isolation_level="AUTOCOMMIT")
        self.database = database
        self.peak_connections = 0
        self.peak_rss_mb = 0.0
        self.peak_children = 0
        self.done = threading.Event()

    def run(self) -> None:
        import sqlalchemy as sa

        query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db")
        with self.engine.connect() as conn:
            while not self.done.wait(0.2):
                self.peak_connections = max(self.peak_connections, conn.execute(query, {"db": self.database}).scalar())
                rss = _children_rss_mb()
                if len(rss) >= self.peak_children:
                    self.peak_children = len(rss)
                    self.peak_rss_mb = max(self.peak_rss_mb, sum(rss))
        self.engine.dispose()


def _children_rss_mb() -> list[float]:
    """Proportional set size (shared pages split between their users: torch's libraries count once in all) of each
    child process of this one, in MB."""
    me, out = str(os.getpid()), []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat.rsplit(")", 1)[1].split()[1] != me:
                continue
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except (OSError, IndexError):
            continue
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                out.append(int(line.split()[1]) / 1024)
    return out


def _mem_available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(server: str, workers: int, trials: int, log_dir: Path) -> dict[str, Any]:
    import sqlalchemy as sa

    from benchmarks.suites.overhead import postgres_database, trivial_spec
    from lrsearch.runner import open_study
    from lrsearch.runner.workers import run_workers

    with postgres_database(server) as url:
        database = sa.make_url(url).database
        spec = trivial_spec(f"many-{workers}-{uuid.uuid4().hex[:6]}", url, trials)
        handle = open_study(spec, url)
        sampler = _Sampler(server, database)
        sampler.start()
        started = time.monotonic()
        try:
            summary = run_workers(handle, workers=workers, progress=None, log_dir=log_dir)
        finally:
            sampler.done.set()
            sampler.join()
        wall = time.monotonic() - started
        row = _analyse(handle, url, workers, trials)
        row.update({
            "stopped by": summary.stopped_by, "wall s": wall,
            "peak connections": sampler.peak_connections,
            "connections/worker": sampler.peak_connections / workers,
            "max_connections": MAX_CONNECTIONS,
            "worker PSS MB": sampler.peak_rss_mb / max(1, sampler.peak_children),
        })
        return row


def _analyse(handle: Any, url: str, workers: int, trials: int) -> dict[str, Any]:
    import sqlalchemy as sa

    frozen = handle.study.get_trials(deepcopy=False)
    finished = [t for t in frozen if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)]
    states = [t.state.name for t in frozen]
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        records = conn.execute(sa.text(
            "SELECT trial_number, worker, epochs_run, started_at FROM lrsearch_trials WHERE study_name = :s"),
            {"s": handle.name}).all()
    engine.dispose()
    numbers = [r.trial_number for r in records]
    complete_epochs = {t.number: REPORTS for t in finished if t.state == optuna.trial.TrialState.COMPLETE}
    exact = (
        len(finished) == trials and "RUNNING" not in states and "WAITING" not in states and "FAIL" not in states
        and sorted(numbers) == sorted(t.number for t in frozen) and len(set(numbers)) == len(numbers)
        and all(r.epochs_run == complete_epochs[r.trial_number] for r in records if r.trial_number in complete_epochs)
    )
    # The window in which every worker runs: from the N-th worker's first trial to the last completion.
    firsts: dict[str, Any] = {}
    for r in sorted(records, key=lambda r: r.started_at):
        firsts.setdefault(r.worker, r.started_at)
    all_running = sorted(firsts.values())[-1].replace(tzinfo=None) if len(firsts) >= workers else None
    start_of = {t.number: t.datetime_start for t in finished}
    in_window = [t for t in finished if all_running is None or t.datetime_start >= all_running]
    if all_running is not None and len(in_window) >= 10:
        span = (max(t.datetime_complete for t in in_window) - all_running).total_seconds()
    else:  # too few trials after the last worker started: the whole run, first to last completion
        in_window = finished
        done = sorted(t.datetime_complete for t in finished)
        span = (done[-1] - done[0]).total_seconds()
    rate = len(in_window) / span if span > 0 else float("nan")
    latency = statistics.median((t.datetime_complete - start_of[t.number]).total_seconds() * 1000 for t in in_window)
    return {"workers": workers, "trials": trials, "finished": len(finished), "exact": exact,
            "workers seen": len(firsts), "trials in window": len(in_window), "trials/s": rate,
            "ms machine time/trial": 1000 / rate if rate else None, "median trial ms (ask->tell)": latency}


def run(quick: bool = False, sizes: list[int] | None = None) -> Result:
    from benchmarks._pgserver import private_postgres

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sizes = sizes or ([1, 2] if quick else [1, 8, 16, 32, 64])
    if str(Path.cwd()) not in sys.path:
        sys.path.append(str(Path.cwd()))  # worker processes import trivial_train from here
    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lrsearch-bench-") as tmp, private_postgres(MAX_CONNECTIONS) as server:
        for workers in sizes:
            if rows and workers > 8:
                need = workers * max(r["worker PSS MB"] for r in rows) * 1.3 + 2048
                if _mem_available_mb() < need:
                    notes.append(f"{workers} workers not run: {workers} x {max(r['worker PSS MB'] for r in rows):.0f} "
                                 f"MB PSS a worker needs ~{need / 1024:.1f} GiB, {_mem_available_mb() / 1024:.1f} "
                                 "GiB available")
                    continue
            load = os.getloadavg()[0]
            row = measure(server, workers, _budget(workers, quick), Path(tmp) / "logs")
            row["load before"] = round(load, 1)
            rows.append(row)
            print(f"  {workers} workers: {row['trials/s']:.1f} trials/s, peak {row['peak connections']} connections, "
                  f"exact={row['exact']}", flush=True)
    base = next((r for r in rows if r["workers"] == 1), None)
    for row in rows:
        row["ratio vs 1 worker (trials/s)"] = row["trials/s"] / base["trials/s"] if base else None
    notes.insert(0, f"private PostgreSQL {MAX_CONNECTIONS} max_connections, fsync on; TPE seed 0, median pruner, "
                    f"{REPORTS} reports a trial; {os.cpu_count()} cores shared by every worker; 1-minute load average "
                    f"{load_before[0]:.1f} when the suite started (the machine is shared: 'load before' per row)")
    return Result("many_workers", TITLE, rows, notes=notes, seeds=[0])
