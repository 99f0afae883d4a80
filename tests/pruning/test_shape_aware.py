"""ShapeAwarePruner: same-shape comparisons for every Optuna pruner, Hyperband's bracket studies included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from lrsearch.config import parse_spec
from lrsearch.pruning import ShapeAwarePruner, shape_param_names
from lrsearch.pruning._shape_aware import _FilteredStorage
from lrsearch.space import SearchSpace
from tests.conftest import digits_spec

optuna.logging.set_verbosity(optuna.logging.WARNING)
KEY = ["schedule.shape"]


def _run(pruner: optuna.pruners.BasePruner, curves: list[tuple[str, list[float]]],
         storage: str | None = None) -> dict[str, list[bool]]:
    """Run trials with fixed shapes and curves through ``pruner``; per shape, whether each trial was pruned."""
    study = optuna.create_study(study_name="s", direction="maximize", pruner=pruner, storage=storage,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    pruned: dict[str, list[bool]] = {}
    for shape, curve in curves:
        study.enqueue_trial({"schedule.shape": shape})
        trial = study.ask()
        trial.suggest_categorical("schedule.shape", ["early", "late"])
        was_pruned = False
        for step, value in enumerate(curve, start=1):
            trial.report(value, step)
            if trial.should_prune():
                was_pruned = True
                break
        study.tell(trial, state=TrialState.PRUNED) if was_pruned else study.tell(trial, curve[-1])
        pruned.setdefault(shape, []).append(was_pruned)
    return pruned


# "early" looks good at once and ends at 0.80; "late" starts low and ends at 0.95 (one-cycle-like).
EARLY = [0.70, 0.75, 0.78, 0.79, 0.80, 0.80, 0.80, 0.80, 0.80]
LATE = [0.30, 0.40, 0.50, 0.60, 0.70, 0.80, 0.90, 0.94, 0.95]


def _alternating(n: int) -> list[tuple[str, list[float]]]:
    return [("early", EARLY) if i % 2 == 0 else ("late", LATE) for i in range(n)]


PRUNERS: dict[str, Callable[[], optuna.pruners.BasePruner]] = {
    "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
    "percentile": lambda: optuna.pruners.PercentilePruner(50.0, n_startup_trials=2, n_warmup_steps=0),
    "successive_halving": lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
    "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3),
}


@pytest.mark.parametrize("name", sorted(PRUNERS))
def test_plain_pruner_prunes_the_late_shape_and_the_wrapped_one_does_not(name: str) -> None:
    plain = _run(PRUNERS[name](), _alternating(24))
    by_shape = _run(ShapeAwarePruner(PRUNERS[name](), KEY), _alternating(24))
    assert any(plain["late"]), f"{name}: the unfairness this wrapper fixes did not show"
    assert not any(by_shape["late"]), f"{name}: late-starting trials were still compared with early ones"


@pytest.mark.parametrize("name", sorted(PRUNERS))
def test_within_a_shape_poor_trials_are_still_pruned(name: str) -> None:
    poor = [v - 0.25 for v in LATE]
    curves = [("late", LATE)] * 6 + [("late", poor)] * 12 + [("early", EARLY)] * 6
    by_shape = _run(ShapeAwarePruner(PRUNERS[name](), KEY), curves)
    assert any(by_shape["late"][6:]), f"{name}: pruning within a shape stopped working"


@pytest.mark.slow
def test_hyperband_on_sqlite_storage(tmp_path: Path) -> None:
    """Hyperband builds bracket studies from ``study._storage``: the filter must hold there, on RDB storage too."""
    url = f"sqlite:///{tmp_path / 'p.db'}"
    by_shape = _run(ShapeAwarePruner(PRUNERS["hyperband"](), KEY), _alternating(16), storage=url)
    assert not any(by_shape["late"])
    study = optuna.load_study(study_name="s", storage=url)
    rung_values = [t for t in study.trials if "completed_rung_0" in t.system_attrs]
    assert rung_values, "successive halving's rung records must be written through the proxy"


def test_without_searched_shapes_it_decides_as_the_wrapped_pruner() -> None:
    curves = _alternating(20)
    assert _run(ShapeAwarePruner(PRUNERS["median"](), []), curves) == _run(PRUNERS["median"](), curves)


def test_filtered_storage_counts_and_best_trial_see_only_kept_trials() -> None:
    study = optuna.create_study(direction="maximize")
    for shape, value in [("a", 0.9), ("b", 0.5), ("b", 0.7)]:
        study.enqueue_trial({"schedule.shape": shape})
        trial = study.ask()
        trial.suggest_categorical("schedule.shape", ["a", "b"])
        study.tell(trial, value)
    view = _FilteredStorage(study._storage, lambda t: t.params["schedule.shape"] == "b")
    assert view.get_n_trials(study._study_id) == 2
    assert view.get_n_trials(study._study_id, TrialState.COMPLETE) == 2
    assert view.get_best_trial(study._study_id).value == 0.7
    assert view.get_study_directions(study._study_id) == study.directions  # everything else passes through


def test_shape_keys_come_from_the_search_space() -> None:
    per_group = SearchSpace(parse_spec(digits_spec()))
    assert shape_param_names(per_group) == ["schedule.head.shape", "schedule.backbone.shape"]
    shared = SearchSpace(parse_spec(digits_spec(schedule={"shape": ["constant", "onecycle"]})))
    assert shape_param_names(shared) == ["schedule.shape"]
    fixed = SearchSpace(parse_spec(digits_spec(schedule={"shape": "cosine"})))
    assert shape_param_names(fixed) == []


def test_open_study_wraps_the_pruner_when_by_shape_is_set(tmp_path: Path) -> None:
    from lrsearch.runner import open_study

    spec = parse_spec(digits_spec("wrap", pruner={"name": "hyperband", "by_shape": True}), base_dir=tmp_path)
    handle = open_study(spec)
    pruner = handle.study.pruner
    assert isinstance(pruner, ShapeAwarePruner)
    assert isinstance(pruner.wrapped, optuna.pruners.HyperbandPruner)
    assert pruner.keys == ["schedule.head.shape", "schedule.backbone.shape"]


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.parametrize("wrapped", [
    lambda: optuna.pruners.PatientPruner(optuna.pruners.MedianPruner(n_startup_trials=2), patience=1),
    lambda: optuna.pruners.WilcoxonPruner(p_threshold=0.5, n_startup_steps=2),
], ids=["patient", "wilcoxon"])
def test_pruners_that_read_the_best_trial_or_wrap_another_work_through_the_view(wrapped) -> None:
    """Wilcoxon compares against ``study.best_trial``: the view must answer it from same-shape trials only."""
    pytest.importorskip("scipy")
    curves = [("early", [0.9] * 9)] * 3 + [("late", [0.5, 0.45, 0.4, 0.35, 0.3, 0.3, 0.3, 0.3, 0.3])] * 3
    assert all(_run(wrapped(), curves)["late"]), "plain, the late shape is judged against the early one"
    assert not any(_run(ShapeAwarePruner(wrapped(), KEY), curves)["late"])
