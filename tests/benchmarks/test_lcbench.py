"""The LCBench surrogate loader gives what yahpo-gym gives, and its own-loop task runs as an lrsearch study."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.lcbench import FIXED, Surrogate, config_of, held_out, missing

pytestmark = pytest.mark.skipif(missing() is not None, reason=str(missing()))

DEFAULT = {"batch_size": 91, "learning_rate": 0.0031622777, "momentum": 0.545, "weight_decay": 0.050005,
           "num_layers": 3, "max_units": 256, "max_dropout": 0.5}
OTHER = {"batch_size": 16, "learning_rate": 0.0002, "momentum": 0.2, "weight_decay": 0.09, "num_layers": 1,
         "max_units": 1024, "max_dropout": 0.1}
# Printed by yahpo-gym 1.0.2 itself (numpy 1.26, ConfigSpace 0.6.1, onnxruntime 1.32) from the same data folder:
# BenchmarkSet("lcbench", instance=...).objective_function({**config, "OpenML_task_id": ..., "epoch": e}).
YAHPO = [
    ("3945", DEFAULT, 1, {"time": 15.9236, "val_accuracy": 38.19505, "val_balanced_accuracy": 0.45423,
                          "test_balanced_accuracy": 0.45783}),
    ("3945", DEFAULT, 52, {"time": 165.68974, "val_accuracy": 93.39881, "val_cross_entropy": 0.3801,
                           "val_balanced_accuracy": 0.6845, "test_cross_entropy": 0.5415,
                           "test_balanced_accuracy": 0.67015}),
    ("34539", OTHER, 10, {"val_accuracy": 67.5201, "val_balanced_accuracy": 0.51026, "test_balanced_accuracy": 0.52632}),
    ("34539", OTHER, 52, {"val_accuracy": 75.48547, "test_cross_entropy": 0.64326, "test_balanced_accuracy": 0.53289}),
]


@pytest.fixture(scope="module")
def surrogate() -> Surrogate:
    return Surrogate()


@pytest.mark.parametrize(("instance", "config", "epoch", "expected"), YAHPO)
def test_matches_yahpo_gym(surrogate: Surrogate, instance: str, config: dict, epoch: int, expected: dict) -> None:
    curve = surrogate.curve(instance, config)
    for name, value in expected.items():
        assert curve[name][epoch - 1] == pytest.approx(value, abs=2e-4), name


def test_curve_shape_and_space(surrogate: Surrogate) -> None:
    curve = surrogate.curve("7593", DEFAULT, epochs=12)
    assert {len(v) for v in curve.values()} == {12}
    assert len(surrogate.instances) == 34 and "3945" in surrogate.instances
    assert surrogate.defaults["learning_rate"] == pytest.approx(0.0031622777)
    assert surrogate.final("7593", DEFAULT)["val_accuracy"] == pytest.approx(surrogate.curve("7593", DEFAULT)["val_accuracy"][-1])


def test_rejects_what_the_surrogate_never_saw(surrogate: Surrogate) -> None:
    with pytest.raises(ValueError, match=r"learning_rate must be in \[0.0001, 0.1\], got 0.5"):
        surrogate.curve("3945", {**DEFAULT, "learning_rate": 0.5})
    with pytest.raises(ValueError, match="unknown LCBench instance '42'"):
        surrogate.curve("42", DEFAULT)
    with pytest.raises(ValueError, match="lacks max_units"):
        surrogate.curve("3945", {k: v for k, v in DEFAULT.items() if k != "max_units"})
    with pytest.raises(ValueError, match="epochs 1..52"):
        surrogate.curve("3945", DEFAULT, epochs=53)


def test_missing_data_is_explained(tmp_path: Path) -> None:
    assert "missing model.onnx" in str(missing(tmp_path))
    with pytest.raises(FileNotFoundError, match="LRSEARCH_LCBENCH_DIR"):
        Surrogate(tmp_path)


@pytest.mark.slow
def test_study_on_the_surrogate_prunes_and_confirms(tmp_path: Path) -> None:
    """The own-loop task through lrsearch's own path: Hyperband prunes, confirm reads the surrogate's test metric."""
    from lrsearch.config import parse_spec
    from lrsearch.results import confirm_top
    from lrsearch.runner import open_study, run_here

    spec = parse_spec({
        "name": "lcbench", "storage": f"sqlite:///{tmp_path / 'l.db'}",
        "objective": {"metric": "val_balanced_accuracy", "direction": "maximize"},
        "budget": {"trials": 12, "epochs": 20},
        "sampler": {"name": "tpe", "seed": 0}, "pruner": {"name": "hyperband"},
        "task": {"train": "benchmarks.lcbench:train", "device": "cpu", "threads": 1, "options": {"instance": "7593"}},
        "optimizer": {"name": "sgd"},
        "groups": [{"name": "all", "rest": True, "lr": {"low": 1e-4, "high": 0.1, "log": True},
                    "momentum": {"low": 0.1, "high": 0.99}, "weight_decay": {"low": 1e-5, "high": 0.1}}],
    })
    handle = open_study(spec, spec.storage)
    summary = run_here(handle, progress=None)
    assert summary.count("COMPLETE") + summary.count("PRUNED") == 12 and summary.count("FAIL") == 0
    assert summary.count("PRUNED") > 0
    best = handle.study.best_trial
    config = handle.space.config_from_params(best.params)
    assert config_of(config, {})["learning_rate"] == pytest.approx(best.params["all.lr"])
    assert {k: config_of(config, {})[k] for k in FIXED} == FIXED
    ranking = confirm_top(handle, top=1, seeds=1, progress=None)
    # 20 epochs here: the confirmed score is the surrogate's test metric at the study's last epoch
    expected = Surrogate().curve("7593", config_of(config, {}), 20)["test_balanced_accuracy"][-1]
    assert ranking["mean"].iloc[0] == pytest.approx(expected)
    assert held_out(config, {"instance": "7593"}) == pytest.approx(Surrogate().final("7593", config_of(config, {}))["test_balanced_accuracy"])
