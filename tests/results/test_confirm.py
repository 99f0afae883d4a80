"""Confirmation runs: ``confirm:`` in the spec runs at the end of ``lrsearch run``; ``best``, ``compare`` and the
trials frame show the confirmed mean ± sd beside the search score."""

from __future__ import annotations

import re
import sqlite3
import statistics
from dataclasses import dataclass
from pathlib import Path

import pytest

from lrsearch.api import run_study
from lrsearch.results import confirm_seeds, confirm_top, open_readonly, trials_frame
from lrsearch.results._compare import fmt_confirmed
from tests.conftest import ROOT, digits_spec, run_cli, write_spec


@dataclass
class Confirmed:
    spec: Path
    db: Path
    run_stdout: str

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db}"

    def runs(self) -> list[tuple]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute("SELECT id, trial_number, seed, state, metric, value FROM lrsearch_confirm "
                                "WHERE study_name = 'gamma' ORDER BY id").fetchall()


@pytest.fixture(scope="module")
def confirmed(tmp_path_factory: pytest.TempPathFactory) -> Confirmed:
    tmp = tmp_path_factory.mktemp("confirm")
    spec = digits_spec("gamma", budget={"trials": 6, "epochs": 3}, confirm={"top": 2, "seeds": 2})
    path = write_spec(tmp, spec)
    proc = run_cli("run", str(path), check=True)
    assert "confirming the top 2 trial(s) with 2 fresh seed(s)" in proc.stderr
    return Confirmed(path, tmp / "lrsearch.db", proc.stdout)


@pytest.mark.slow
def test_run_stores_top_k_times_s_runs_on_the_test_split(confirmed: Confirmed) -> None:
    runs = confirmed.runs()
    trials = trials_frame(confirmed.url, "gamma")
    complete = trials[trials["state"] == "COMPLETE"].sort_values(["value", "number"], ascending=[False, True])
    assert len(runs) == 4
    assert [r[1] for r in runs] == [complete["number"].iloc[0]] * 2 + [complete["number"].iloc[1]] * 2
    assert {r[2] for r in runs} == {1_000_000, 1_000_001}, "the same fresh seeds for every config"
    assert not {r[2] for r in runs} & set(trials["seed"].dropna()), "no trial seed is reused"
    assert {r[3] for r in runs} == {"COMPLETE"} and {r[4] for r in runs} == {"test_accuracy"}
    assert all(0.0 < r[5] <= 1.0 for r in runs)


@pytest.mark.slow
def test_frames_best_and_compare_show_the_confirmed_scores(confirmed: Confirmed) -> None:
    runs = confirmed.runs()
    by_trial: dict[int, list[float]] = {}
    for _, number, _, _, _, value in runs:
        by_trial.setdefault(number, []).append(value)
    stats = {n: (statistics.mean(v), statistics.stdev(v), len(v)) for n, v in by_trial.items()}
    leader = max(stats, key=lambda n: (stats[n][0], -n))

    frame = trials_frame(confirmed.url, "gamma").set_index("number")
    for number, (mean, sd, n) in stats.items():
        assert frame.loc[number, "confirmed_mean"] == pytest.approx(mean, abs=1e-12)
        assert frame.loc[number, "confirmed_sd"] == pytest.approx(sd, abs=1e-12)
        assert frame.loc[number, "confirmed_n"] == n
    assert (frame["confirmed_n"] == 0).sum() == len(frame) - 2

    best = run_cli("best", str(confirmed.spec), check=True).stdout
    assert f"trial #{leader} (best confirmed mean)" in best
    assert f"confirmed test_accuracy = {fmt_confirmed(*stats[leader])}, rank 1 of 2" in best
    ranking = [line for line in best.splitlines() if re.match(r"^\s+\d\s+#\d+", line)]
    assert [int(re.search(r"#(\d+)", line).group(1)) for line in ranking][0] == leader
    for line in ranking:
        number = int(re.search(r"#(\d+)", line).group(1))
        assert fmt_confirmed(*stats[number]) in line
        assert f"{frame.loc[number, 'value']:.4f}" in line, "the search score beside the confirmed one"

    compare = run_cli("compare", str(confirmed.spec), check=True).stdout
    assert re.search(rf"confirmed best\s+{re.escape(fmt_confirmed(*stats[leader]))} #{leader} test_accuracy", compare)


@pytest.mark.slow
def test_confirm_command_adds_configs_and_repeats_nothing(confirmed: Confirmed, tmp_path: Path) -> None:
    # On a copy of the study: the runs added here must not change what the other tests of the module read.
    with sqlite3.connect(confirmed.db) as source, sqlite3.connect(tmp_path / "lrsearch.db") as dest:
        source.backup(dest)
    confirmed = Confirmed(confirmed.spec, tmp_path / "lrsearch.db", confirmed.run_stdout)
    before = confirmed.runs()
    proc = run_cli("confirm", "--storage", confirmed.url, "--study", "gamma", "--top", "3", "--seeds", "2", check=True)
    after = confirmed.runs()
    assert after[:4] == before, "runs already stored are kept, not repeated"
    assert len(after) == 6 and len({r[1] for r in after[4:]}) == 1 and after[4][1] not in {r[1] for r in before}
    assert proc.stderr.count("seed 1000000:") == 1, "only the new config was trained"
    assert "rank" in proc.stdout and proc.stdout.count("(n=2)") == 3


def test_confirm_seeds_skip_trial_seeds() -> None:
    assert confirm_seeds(0, set(), 3) == [1_000_000, 1_000_001, 1_000_002]
    assert confirm_seeds(5, {1_000_005, 1_000_007}, 2) == [1_000_006, 1_000_008]


def own_loop_spec(name: str, train: str) -> dict:
    spec = digits_spec(name, budget={"trials": 2, "epochs": 2})
    spec["task"] = {"train": train, "device": "cpu", "threads": 1}
    spec["groups"] = [{"name": "all", "rest": True, "lr": {"low": 0.01, "high": 0.1, "log": True}}]
    spec["optimizer"] = {"name": "sgd"}
    spec["schedule"] = {"shape": "cosine"}
    return spec


@pytest.mark.slow
def test_own_loop_confirmation(tmp_path: Path) -> None:
    good = write_spec(tmp_path, own_loop_spec("own", "tests.results.own_loop:train"), "own.yaml")
    handle, _ = run_study(good, progress=None)
    ranking = confirm_top(open_readonly(handle.url, "own"), top=1, seeds=2, progress=None)
    assert list(ranking["n"]) == [2] and ranking["metric"].iloc[0] == "test_accuracy"
    assert 0.5 < ranking["mean"].iloc[0] <= 1.0

    bad = write_spec(tmp_path, own_loop_spec("own-no-test", "tests.results.own_loop:train_without_test"), "bad.yaml")
    run_study(bad, progress=None)
    proc = run_cli("confirm", str(bad), "--top", "1", "--seeds", "1", cwd=ROOT)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "reported no 'test_accuracy'" in proc.stderr and "ctx.evaluate_test" in proc.stderr
