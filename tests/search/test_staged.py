"""The staged strategy: stage 1 holds the per-group dimensions at the single-lr point, stage 2 holds the shared ones
at stage 1's best, whichever process ran it; the stage is recorded and a study resumes mid-stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest

from tests.conftest import run_cli, write_spec
from tests.search.test_recipes import nested_spec

SHARED = ("opt.name", "head.lr", "head.weight_decay", "schedule.shape", "schedule.warmup")
PER_GROUP = ("backbone.lr_ratio", "backbone.freeze_epochs")


def staged_spec(tmp_path: Path) -> dict[str, Any]:
    # 6 trials of 2 epochs: stage 1 is half of them (3 trials, 6 epochs), the recipe first
    return {**nested_spec("staged", search={"strategy": "staged", "stage1": 0.5}),
            "budget": {"trials": 6, "epochs": 2}, "pruner": {"name": "none"},
            "storage": f"sqlite:///{tmp_path / 's.db'}"}


@pytest.mark.slow
def test_stage_two_starts_from_the_best_stage_one_trial_of_another_process(tmp_path: Path) -> None:
    path = write_spec(tmp_path, staged_spec(tmp_path))
    # a first process stops in the middle of stage 1; a second resumes and a third finishes the study
    run_cli("run", str(path), "--trials", "2", "--quiet", "--no-confirm", check=True)
    run_cli("run", str(path), "--trials", "4", "--quiet", "--no-confirm", check=True)
    run_cli("run", str(path), "--quiet", "--no-confirm", check=True)
    study = optuna.load_study(study_name="staged", storage=f"sqlite:///{tmp_path / 's.db'}")
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    assert [t.state.name for t in trials] == ["COMPLETE"] * 6
    assert [t.user_attrs["stage"] for t in trials] == [1, 1, 1, 2, 2, 2]
    assert trials[0].user_attrs["recipe"] == "single-lr"
    assert trials[3].user_attrs["recipe"] == "fastai"  # the stage-2 recipes are queued when stage 2 begins
    stage1 = trials[:3]
    for t in stage1:  # the single-lr space
        assert t.params["backbone.lr_ratio"] == 1.0 and t.params["backbone.freeze_epochs"] == 0
    best = max(stage1, key=lambda t: t.value)
    for t in trials[3:]:
        assert t.user_attrs["stage1_best"] == best.number
        assert {k: t.params[k] for k in SHARED} == {k: best.params[k] for k in SHARED}
    assert trials[3].params["backbone.lr_ratio"] == 0.1 and trials[3].params["backbone.freeze_epochs"] == 1
    # the sampler searched the per-group dimensions in stage 2
    assert len({t.params["backbone.lr_ratio"] for t in trials[3:]}) == 3

    from lrsearch.results import compare_studies, format_comparison, trials_frame

    url = f"sqlite:///{tmp_path / 's.db'}"
    origin = ("recipe single-lr, " if best.number == 0 else "") + "stage 1"
    best_overall = max(trials, key=lambda t: t.value)
    if best_overall.number != best.number:
        origin = ("recipe fastai, " if best_overall.number == 3 else "") + "stage 2"
    row = next(ln for ln in format_comparison(compare_studies([(url, "staged")])).splitlines()
               if ln.startswith("best came from"))
    assert row.split(None, 3)[3] == origin
    assert trials_frame(url)["stage"].tolist() == [1, 1, 1, 2, 2, 2]


def test_staged_needs_a_trial_budget_and_per_group_dimensions(tmp_path: Path) -> None:
    spec = staged_spec(tmp_path)
    spec["budget"] = {"timeout": "1m", "epochs": 2}
    spec["groups"] = [{"name": "all", "rest": True, "lr": {"low": 1e-3, "high": 0.3, "log": True}}]
    proc = run_cli("validate", str(write_spec(tmp_path, spec)))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "search.strategy: staged splits the budget (budget.trials, and the epochs they may use)" in proc.stderr
    assert "search.strategy: staged needs per-group dimensions to search in stage 2" in proc.stderr
