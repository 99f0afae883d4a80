"""The single-lr point of a per-group space, and recipes queued once per study however it is opened."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import optuna
import pytest

from lrsearch.config import load_spec, parse_spec
from lrsearch.runner import open_study, run_here
from lrsearch.search import base_params, nesting, resolve_recipes
from lrsearch.space import SearchSpace
from tests.conftest import ROOT, digits_spec, run_cli, write_spec

SHIPPED = sorted((ROOT / "studies").glob("*.yaml"))


def nested_spec(name: str = "nested", **overrides: Any) -> dict[str, Any]:
    """A per-group space that contains the single-lr configuration: shared weight decay and momentum."""
    spec = digits_spec(name, **{"search": {"recipes": "auto"}, **overrides})
    spec["groups"] = [
        {"name": "head", "params": ["head.*"], "lr": {"low": 1e-3, "high": 0.3, "log": True},
         "momentum": {"low": 0.8, "high": 0.95}, "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True}},
        {"name": "backbone", "rest": True, "lr": {"ratio_of": "head", "low": 0.01, "high": 3.0, "log": True},
         "momentum": {"same_as": "head"}, "weight_decay": {"same_as": "head"}, "freeze_epochs": {"choices": [0, 1]}},
    ]
    spec["schedule"] = {"shape": ["constant", "cosine"], "warmup": {"low": 0.0, "high": 0.2}}
    spec["task"] = {**spec["task"], "options": {"width": 4}, "batch_size": 256}  # the mechanics, not the scores
    spec.pop("storage", None)
    return spec


def single_lr_config(spec: Any) -> Any:
    space = SearchSpace(spec)
    return space.config_from_params(base_params(space))


def assert_single_lr(config: Any) -> None:
    """Every group of every optimizer trains with the same lr, weight decay, momentum/betas and schedule."""
    for opt in config.optimizers:
        first = opt.groups[0]
        for group in opt.groups:
            assert group.lr == pytest.approx(first.lr)
            assert group.layer_decay in (None, 1.0)
            assert group.freeze_epochs == 0
            assert (group.weight_decay, group.momentum, group.betas) == (first.weight_decay, first.momentum, first.betas)
            assert group.schedule.shape == first.schedule.shape
            assert group.schedule.params == first.schedule.params
            assert group.schedule.warmup == first.schedule.warmup


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_per_group_study_contains_its_single_lr_point(path: Path) -> None:
    from lrsearch.errors import SpecError

    try:
        spec = load_spec(path)
    except SpecError as exc:  # a study naming an optimizer from a package that is not installed here
        if "No module named" not in str(exc):
            raise
        pytest.skip(str(exc).splitlines()[-1].strip())
    nest = nesting(spec)
    if not nest.point:
        pytest.skip("no per-group dimensions")
    assert nest.nested, nest.outside
    assert_single_lr(single_lr_config(spec))


def test_the_single_lr_point_is_a_trained_config_with_one_lr_for_all_groups() -> None:
    spec = parse_spec(nested_spec())
    assert nesting(spec).nested
    config = single_lr_config(spec)
    assert_single_lr(config)
    assert config.optimizers[0].groups[1].lr == pytest.approx(config.optimizers[0].groups[0].lr)


@pytest.mark.slow
def test_a_ratio_range_without_1_puts_the_point_outside_and_space_says_so(tmp_path: Path) -> None:
    spec = nested_spec()
    spec["groups"][1]["lr"] = {"ratio_of": "head", "low": 0.01, "high": 0.5, "log": True}
    path = write_spec(tmp_path, {**spec, "storage": f"sqlite:///{tmp_path / 's.db'}"})
    out = run_cli("space", str(path), check=True).stdout
    assert "single-lr point: OUTSIDE the space: backbone.lr_ratio (float log [0.01, 0.5]) does not contain 1" in out
    # the staged strategy starts from that point: refused at load time, naming the field, exit 2
    spec["search"] = {"strategy": "staged"}
    path = write_spec(tmp_path, {**spec, "storage": f"sqlite:///{tmp_path / 's.db'}"})
    proc = run_cli("validate", str(path))
    assert proc.returncode == 2
    assert "search.strategy: staged starts from the single-lr point, which is outside this space" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_space_lists_the_single_lr_point_and_the_recipes(tmp_path: Path) -> None:
    path = write_spec(tmp_path, {**nested_spec(), "storage": f"sqlite:///{tmp_path / 's.db'}"})
    out = run_cli("space", str(path), check=True).stdout
    assert "single-lr point: inside the space (backbone.lr_ratio=1, backbone.freeze_epochs=0)" in out
    assert "recipes (search.recipes: auto), queued once before the sampler's own trials:" in out
    assert "  single-lr  the base" in out
    assert "  fastai     backbone.lr_ratio=0.1, backbone.freeze_epochs=1" in out
    assert "strategy: joint" in out
    assert not (tmp_path / "s.db").exists()  # looking at the space stores nothing


def test_layerwise_recipes_appear_for_layerwise_groups() -> None:
    spec = load_spec(ROOT / "studies" / "layerwise_decay.yaml")
    names = [r.name for r in resolve_recipes(spec)]
    assert names[:1] == ["single-lr"] and {"llrd-0.65", "llrd-0.8", "llrd-0.95"} <= set(names)
    by_name = {r.name: r for r in resolve_recipes(spec)}
    assert by_name["llrd-0.8"].params["layers.layer_decay"] == 0.8
    assert by_name["single-lr"].params["layers.layer_decay"] == 1.0


def test_a_single_lr_space_gets_no_automatic_recipes() -> None:
    spec = digits_spec(search={"recipes": "auto"})
    spec["groups"] = [{"name": "all", "rest": True, "lr": {"low": 1e-3, "high": 0.3, "log": True}}]
    assert resolve_recipes(parse_spec(spec)) == []


@pytest.mark.parametrize(("recipes", "field", "message"), [
    (["fastai", "fastia"], "search.recipes[1]", "unknown recipe 'fastia'; builtin recipes: single-lr, fastai"),
    ([{"name": "mine", "params": {"backbone.lr": 0.1}}], "search.recipes[0].params.backbone.lr",
     "not a searched dimension; dimensions: opt.name"),
    ([{"name": "mine", "params": {"backbone.lr_ratio": 10.0}}], "search.recipes[0].params.backbone.lr_ratio",
     "10.0 is outside float log [0.01, 3]"),
    ("some", "search.recipes", "auto"),
])
def test_bad_recipes_are_refused_naming_the_field(tmp_path: Path, recipes: Any, field: str, message: str) -> None:
    db = tmp_path / "s.db"
    path = write_spec(tmp_path, {**nested_spec(search={"recipes": recipes}), "storage": f"sqlite:///{db}"})
    proc = run_cli("run", str(path))
    assert proc.returncode == 2, proc.stderr
    line = next(ln for ln in proc.stderr.splitlines() if ln.strip().startswith(field))
    assert message in line
    assert "Traceback" not in proc.stderr and not db.exists()


def recipe_trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name=name, storage=url)
    return [t for t in study.get_trials(deepcopy=False) if "recipe" in t.user_attrs]


def test_recipes_are_queued_once_and_not_again_on_resume(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    spec = parse_spec({**nested_spec(search={"recipes": ["single-lr", "fastai",
                                                         {"name": "mine", "params": {"backbone.lr_ratio": 0.3}}]}),
                       "storage": url, "budget": {"trials": 4, "epochs": 2}, "pruner": {"name": "none"}})
    handle = open_study(spec, url)
    run_here(handle, trials=2, progress=None)
    open_study(spec, url)  # resume: the study was opened before, nothing is queued again
    handle = open_study(spec, url)
    run_here(handle, progress=None)
    trials = recipe_trials(url, spec.name)
    assert [(t.number, t.user_attrs["recipe"]) for t in trials] == [(0, "single-lr"), (1, "fastai"), (2, "mine")]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    first = trials[0].params
    assert first["backbone.lr_ratio"] == 1.0 and first["backbone.freeze_epochs"] == 0
    assert trials[1].params["backbone.lr_ratio"] == 0.1 and trials[2].params["backbone.lr_ratio"] == 0.3
    all_trials = optuna.load_study(study_name=spec.name, storage=url).get_trials(deepcopy=False)
    assert len(all_trials) == 4  # three recipes and one trial of the sampler's own

    from lrsearch.results import trials_frame

    frame = trials_frame(url).set_index("number")
    assert frame.loc[0, "recipe"] == "single-lr" and frame.loc[2, "recipe"] == "mine"
    assert frame["recipe"].isna().sum() == 1


OPEN = textwrap.dedent("""
    import pathlib, sys, time
    from lrsearch.config import load_spec
    from lrsearch.runner import open_study
    spec = load_spec(sys.argv[1])
    pathlib.Path(sys.argv[2]).touch()  # imported and ready
    while not pathlib.Path(sys.argv[3]).exists():  # then every process opens the study at once
        time.sleep(0.002)
    open_study(spec)
""")


def open_at_once(tmp_path: Path, path: Path, processes: int) -> None:
    """``open_study`` in several real processes released together once all of them have imported lrsearch."""
    import os
    import time

    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(processes)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", OPEN, str(path), str(r), str(go)], stderr=subprocess.PIPE,
                              text=True, env=env) for r in ready]
    deadline = time.monotonic() + 300  # a deadlock guard only
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err


@pytest.mark.slow
def test_several_processes_opening_a_new_study_at_once_queue_one_copy(tmp_path: Path) -> None:
    from lrsearch.storage import optuna_storage

    url = f"sqlite:///{tmp_path / 's.db'}"
    optuna_storage(url)  # the database exists (Optuna's own tables), the study does not
    open_at_once(tmp_path, write_spec(tmp_path, {**nested_spec(), "storage": url}), 3)
    trials = recipe_trials(url, "nested")
    assert sorted(t.user_attrs["recipe"] for t in trials) == ["fastai", "single-lr"]
    assert all(t.state == optuna.trial.TrialState.WAITING for t in trials)


@pytest.mark.slow
def test_several_processes_on_postgres_queue_one_copy(tmp_path: Path, postgres_url: str) -> None:
    from lrsearch.storage import optuna_storage

    optuna_storage(postgres_url)
    open_at_once(tmp_path, write_spec(tmp_path, {**nested_spec(), "storage": postgres_url}), 3)
    assert sorted(t.user_attrs["recipe"] for t in recipe_trials(postgres_url, "nested")) == ["fastai", "single-lr"]
