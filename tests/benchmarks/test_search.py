"""The search-efficiency arithmetic: epochs to reach a target, ratios against the baseline with the same seed."""

from __future__ import annotations

import pytest

from benchmarks.suites.search import Arm, SearchRun, compare


def search(arm: str, seed: int, history: list[tuple[int, float]], held_out: list[float], epochs: int) -> SearchRun:
    best = max(v for _, v in history)
    return SearchRun(arm=arm, seed=seed, epochs=epochs, trials=len(history), history=history, best_value=best,
                     held_out=held_out)


def test_epochs_to_reach_is_the_first_completed_trial_at_or_past_the_target() -> None:
    run = search("a", 0, [(10, 0.5), (20, 0.8), (30, 0.9)], [0.8], 30)
    assert run.epochs_to_reach(0.8) == 20
    assert run.epochs_to_reach(0.95) is None
    assert run.epochs_to_reach(0.6, maximize=False) == 10


def test_rows_compare_each_seed_with_the_baseline_of_the_same_seed() -> None:
    arms = [Arm("base", "baseline", {}), Arm("fast", "finds it sooner", {})]
    runs = {
        "base": [search("base", 0, [(10, 0.7), (40, 0.9)], [0.80, 0.82], 40),
                 search("base", 1, [(10, 0.6), (20, 0.8)], [0.70, 0.70], 40)],
        "fast": [search("fast", 0, [(5, 0.9)], [0.90, 0.90], 40),       # reaches 0.9 after 5 epochs
                 search("fast", 1, [(5, 0.7), (35, 0.75)], [0.70, 0.70], 35)],  # never reaches 0.8
    }
    rows = {r["search"]: r for r in compare("toy", arms, runs, "base", "test accuracy")}
    base, fast = rows["base"], rows["fast"]
    assert base["held-out ratio"] == pytest.approx(1.0) and base["epochs ratio"] == pytest.approx(1.0)
    assert base["epochs to baseline's best"] == pytest.approx((40 + 20) / 2)
    # seed 0 reached at 5 epochs; seed 1 never did and counts all its 35 epochs
    assert fast["epochs to baseline's best"] == pytest.approx(20.0)
    assert fast["reached"] == "1/2"
    assert fast["epochs ratio"] == pytest.approx(20 / 30)
    assert fast["held-out ratio"] == pytest.approx(0.80 / 0.755)
    assert fast["Δ vs baseline (points)"].startswith("4.5 ± ")
    assert fast["best val (biased)"].startswith("0.825 ± ")
    assert fast["confirmed test accuracy"] == "0.800 ± 0.141 (n=2)"
