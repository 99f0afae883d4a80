"""``best --json`` and ``compare --json``: the same answers as the tables, for scripts."""

from __future__ import annotations

import json

import optuna
import pytest

from lrsearch.results import trials_frame
from tests.conftest import run_cli
from tests.results.conftest import Studies

pytestmark = pytest.mark.slow  # the session's real studies (tests/results/conftest.py), read by the CLI


def test_best_json_is_the_best_trial_with_its_params(studies: Studies) -> None:
    data = json.loads(run_cli("best", str(studies.alpha), "--by", "search", "--json", check=True).stdout)
    trials = trials_frame(studies.url, "alpha")
    complete = trials[trials["state"] == "COMPLETE"]
    best = complete.loc[complete["value"].idxmax()]
    assert (data["study"], data["trial"], data["chosen_by"]) == ("alpha", int(best["number"]), "search")
    assert data["value"] == best["value"] and data["direction"] == "maximize"
    stored = optuna.load_study(study_name="alpha", storage=studies.url).trials[data["trial"]].params
    assert data["params"] == stored
    assert [g["name"] for g in data["config"]["optimizers"][0]["groups"]] == ["head", "backbone"]


def test_best_json_with_a_file_written_keeps_stdout_json(studies: Studies, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "best.yaml"
    proc = run_cli("best", "--storage", studies.url, "--study", "beta", "-o", str(out), "--json", check=True)
    assert json.loads(proc.stdout)["written"] == [str(out)] and out.is_file()


def test_compare_json_matches_the_table(studies: Studies) -> None:
    rows = json.loads(run_cli("compare", "alpha", "--study", "beta", "--storage", studies.url, "--json",
                              check=True).stdout)
    assert [r["study"] for r in rows] == ["alpha", "beta"]
    for row in rows:
        trials = trials_frame(studies.url, row["study"])
        assert row["complete"] == int((trials["state"] == "COMPLETE").sum())
        assert row["pruned"] == int((trials["state"] == "PRUNED").sum())
        assert row["best_value"] == trials["value"].max()
        assert set(row["epochs_to"]) == {"0.95", "0.99"}
