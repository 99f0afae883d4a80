"""``lrsearch space``: every dimension with its distribution and condition, and their count."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from lrsearch.config import load_spec
from lrsearch.space import SearchSpace
from tests.cli.forked import REPO, CliResult, run_cli

STUDIES = sorted((REPO / "studies").glob("*.yaml"))


@pytest.fixture(scope="module")
def results() -> dict[Path, CliResult]:
    broken = REPO / "tests" / "specs" / "unknown_optimizer.yaml"
    paths = [*STUDIES, broken]
    return dict(zip(paths, run_cli([["space", str(p)] for p in paths]), strict=True))


def test_quickstart_space(results: dict[Path, CliResult]) -> None:
    result = results[REPO / "studies" / "quickstart.yaml"]
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in _table(result.stdout)]
    assert rows[0] == ["dimension", "distribution", "active", "when"]
    table = {row[0]: " ".join(row[1:]) for row in rows[1:-1]}
    assert table == {
        "opt.name": "categorical {adamw_schedulefree, sgd_schedulefree} always",
        "schedule.warmup": "float [0, 0.2] always",
        "head.lr": "float log [0.001, 0.3] always",
        "head.momentum": "float [0.8, 0.98] opt.name == sgd_schedulefree",
        "head.weight_decay": "float log [1e-06, 0.01] always",
        "backbone.lr_ratio": "float log [0.03, 3] always",
    }
    assert _table(result.stdout)[-1] == "6 dimensions (5 always active, 1 conditional)"
    # after the table: where the single-lr configuration sits, and the recipes queued first
    search = result.stdout.split("\n\n", 1)[1]
    assert search.startswith("single-lr point: inside the space (backbone.lr_ratio=1)\n")
    assert "  fastai     backbone.lr_ratio=0.1\n" in search


def _table(stdout: str) -> list[str]:
    """The dimension table: the lines before the first blank one."""
    return stdout.split("\n\n", 1)[0].splitlines()


def _sampled_names(path: Path, trials: int = 200) -> tuple[set[str], set[str]]:
    """The parameter names Optuna itself records when trials of the study are sampled at random: all of them,
    and those that some trial lacked (conditional ones)."""
    space = SearchSpace(load_spec(path))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen: list[set[str]] = []
    for _ in range(trials):
        trial = study.ask()
        space.sample(trial)
        seen.append(set(trial.params))
        study.tell(trial, 0.0)
    every = set().union(*seen)
    return every, {name for name in every if any(name not in s for s in seen)}


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.name)
def test_space_lists_every_dimension_of_every_study(results: dict[Path, CliResult], path: Path) -> None:
    """The listing is checked against what Optuna records for sampled trials, not against the listing code."""
    result = results[path]
    assert result.returncode == 0, result.stderr
    lines = _table(result.stdout)
    rows = {line.split()[0]: line.rstrip() for line in lines[1:-1]}
    sampled, conditional = _sampled_names(path)
    assert set(rows) == sampled
    for name in conditional:
        assert not rows[name].endswith("always"), f"{name} is missing from some trials but listed as always active"
    assert lines[-1].startswith(f"{len(rows)} dimensions ({len(rows) - len(conditional)} always active")


def test_space_of_a_broken_spec_exits_2(results: dict[Path, CliResult]) -> None:
    result = results[REPO / "tests" / "specs" / "unknown_optimizer.yaml"]
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "optimizer.name: unknown optimizer 'adamx'" in result.stderr
