"""``lrsearch slurm`` on a real single-node SLURM (slurmctld + slurmd + munge on localhost) and the PostgreSQL
server: an array of three workers runs a study to exactly its budget while one task is cancelled and another
requeued in the middle of a trial."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli, write_spec
from tests.fixtures_tasks.databases import query
from tests.fixtures_tasks.sleepy import sleepy_spec
from tests.fixtures_tasks.slurm import LocalSlurm, local_slurm

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

BUDGET = 9
DEADLINE_S = 600.0  # a deadlock guard only


def _mid_trial(url: str, task: str) -> int:
    """The number of the trial the array task ``task`` (JOB_INDEX) is running once it has reported an epoch."""
    sql = ("SELECT t.number FROM trials t JOIN lrsearch_trials l ON l.trial_number = t.number "
           "WHERE t.state = 'RUNNING' AND l.worker LIKE :worker "
           "AND EXISTS (SELECT 1 FROM trial_intermediate_values v WHERE v.trial_id = t.trial_id)")
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        try:
            rows = query(url, sql, worker=f"% slurm {task}")
        except Exception:  # noqa: BLE001 - the tables appear when the first worker starts
            rows = []
        if rows:
            return rows[0]["number"]
        time.sleep(0.2)
    raise AssertionError(f"array task {task} never ran a trial")


def _wait(what: str, check, cluster: LocalSlurm) -> None:  # noqa: ANN001
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}\n{cluster.logs()}")


def test_an_array_of_three_workers_finishes_its_budget_through_a_scancel_and_a_requeue(
        tmp_path: Path, postgres_url: str) -> None:
    with local_slurm() as cluster:
        spec = write_spec(tmp_path, sleepy_spec("slurm-array", trials=BUDGET))
        env = {**cluster.env, "PYTHONPATH": str(ROOT), "LRSEARCH_TEST_EPOCH_S": "1"}
        submitted = run_cli("slurm", str(spec), "--array", "3", "--storage", postgres_url, "--requeue",
                            "--time", "30:00", cwd=tmp_path, env=env, check=True)
        job = re.search(r"submitted array job (\d+): 3 task\(s\)", submitted.stdout).group(1)
        assert f"task output: {tmp_path}/slurm-{job}_<task>.out" in submitted.stdout

        cancelled = _mid_trial(postgres_url, f"{job}_1")
        cluster.command("scancel", f"{job}_1")
        requeued = _mid_trial(postgres_url, f"{job}_2")
        cluster.command("scontrol", "requeue", f"{job}_2")
        # SLURM holds a requeued job for two minutes before it may start again; let it start now.
        _wait("the requeued task to be pending", lambda: cluster.job_state(f"{job}_2") == "PENDING", cluster)
        cluster.command("scontrol", "update", f"JobId={job}_2", "StartTime=now")
        _wait("the array to finish", lambda: not cluster.job_state(job), cluster)

    trials = query(postgres_url, "SELECT t.trial_id, t.number, t.state FROM trials t ORDER BY t.number")
    states = [t["state"] for t in trials]
    assert "RUNNING" not in states and "WAITING" not in states
    assert states.count("COMPLETE") == BUDGET, f"exactly the budget finished: {states}"
    failed = query(postgres_url, "SELECT trial_number, fail_reason FROM lrsearch_trials WHERE fail_reason IS NOT NULL")
    assert sorted((r["trial_number"], r["fail_reason"]) for r in failed) == sorted(
        [(cancelled, "interrupted"), (requeued, "interrupted")])
    # Each interrupted config ran again, to completion.
    reruns = query(postgres_url, "SELECT a.value_json, t.state FROM trial_user_attributes a JOIN trials t "
                                 "ON t.trial_id = a.trial_id WHERE a.key = 'retry_of'")
    assert sorted((int(r["value_json"]), r["state"]) for r in reruns) == sorted(
        [(cancelled, "COMPLETE"), (requeued, "COMPLETE")])

    logs = {i: (tmp_path / f"slurm-{job}_{i}.out").read_text() for i in range(3)}
    assert f"trial {cancelled} failed (interrupted)" in logs[1]
    assert f"trial {requeued} failed (interrupted)" in logs[2]
    # The requeued task ran twice and appended to its log (--open-mode=append in the script).
    assert "restart 0" in logs[2] and "restart 1" in logs[2]
    assert len(list((tmp_path / "lrsearch-logs").rglob("*.log"))) == BUDGET + 2
