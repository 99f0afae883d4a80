"""``lrsearch best``: the fixed study YAML re-runs exactly the trial's config; errors name valid trials."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lrsearch.config import load_spec
from lrsearch.results import best_trial, best_yaml, curves_frame, open_readonly, trials_frame
from lrsearch.results._source import trial_config
from lrsearch.space import SearchSpace
from tests.conftest import run_cli
from tests.results.conftest import Studies

pytestmark = pytest.mark.slow  # the session's real studies (tests/results/conftest.py), read and rerun by the CLI


def without_params(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "params"}


@pytest.mark.parametrize("study", ["alpha", "beta"])
def test_fixed_yaml_has_no_search_space_and_gives_the_trials_config(studies: Studies, tmp_path: Path,
                                                                     study: str) -> None:
    best = best_trial(studies.url, study, by="search")
    path = tmp_path / "best.yaml"
    path.write_text(best_yaml(best))
    spec = load_spec(path)
    space = SearchSpace(spec)
    assert space.dimensions() == []
    rebuilt = space.config_from_params({}, trial_number=0)
    original, _ = trial_config(open_readonly(studies.url, study), best.number)
    assert without_params(rebuilt.to_dict()) == without_params(original.to_dict())
    assert rebuilt.seed == original.seed == best.number, "trial 0 of the fixed study trains with the trial's seed"


def test_best_yaml_validates_and_reruns_the_trial_exactly(studies: Studies, tmp_path: Path) -> None:
    out = run_cli("best", str(studies.alpha), "--by", "search", "-o", str(tmp_path / "best.yaml"), check=True).stdout
    number = int(re.search(r"trial #(\d+) \(best search score\)", out).group(1))
    assert f"wrote {tmp_path / 'best.yaml'}" in out and "optimizer " in out and "  head " in out
    ran = run_cli("run", str(tmp_path / "best.yaml"), "--quiet", check=True).stdout
    assert "1 complete" in ran
    fixed_url = f"sqlite:///{tmp_path / 'lrsearch.db'}"
    rerun = trials_frame(fixed_url, f"alpha-trial{number}")
    original = trials_frame(studies.url, "alpha").set_index("number").loc[number]
    assert rerun["value"].iloc[0] == original["value"], "same config, seed and threads: the same score"
    curve = curves_frame(fixed_url)
    recorded = curves_frame(studies.url, "alpha").query(f"trial == {number}")
    assert list(curve["lr"]) == list(recorded["lr"]) and list(curve["val_accuracy"]) == list(recorded["val_accuracy"])


def test_best_errors_name_the_trials_that_would_be_valid(studies: Studies, tmp_path: Path) -> None:
    trials = trials_frame(studies.url, "alpha")
    pruned = int(trials[trials["state"] == "PRUNED"]["number"].iloc[0])
    complete = ", ".join(f"#{n}" for n in trials[trials["state"] == "COMPLETE"]["number"])
    proc = run_cli("best", "--storage", studies.url, "--study", "alpha", "--trial", str(pruned))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"trial #{pruned} of study 'alpha' is PRUNED" in proc.stderr and complete in proc.stderr
    with pytest.raises(Exception, match=r"has no trial #99; its trials are #0\.\.#7"):
        best_trial(studies.url, "alpha", trial=99)
    with pytest.raises(Exception, match="no confirmation runs"):
        best_trial(studies.url, "alpha", by="confirmed")


def test_best_keras_writes_the_trials_optimizer_as_plain_keras(studies: Studies, tmp_path: Path) -> None:
    out = tmp_path / "best_keras.py"
    proc = run_cli("best", str(studies.alpha), "--by", "search", "--keras", str(out), check=True)
    assert f"wrote {out}: plain Keras (any backend), no lrsearch import" in proc.stdout
    source = out.read_text()
    assert "class GroupOptimizer(keras.optimizers.Optimizer)" in source
    assert "register_keras_serializable(package='best_keras')" in source
    assert not re.search(r"^\s*(import|from) lrsearch", source, re.MULTILINE)
    compile(source, str(out), "exec")
    bad = run_cli("best", str(studies.alpha), "--keras", str(tmp_path / "best.txt"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "--keras" in bad.stderr and "expected a .py file" in bad.stderr
