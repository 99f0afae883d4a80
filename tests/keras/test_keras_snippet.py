"""``lrsearch best --keras``: the trial's optimizer as a plain-Keras file that builds what lrsearch builds."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from lrsearch.integrations.keras import fit_setup
from lrsearch.results._keras_snippet import keras_snippet
from lrsearch.training import TrialContext
from lrsearch.trial_config import GroupConfig, OptimizerConfig, ScheduleConfig, TrialConfig
from tests.keras import fit_probe

STEPS = 5


def _load(source: str, path: Path) -> Any:
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _blocks_model() -> keras.Model:
    """Dense ``block_0`` and ``block_1``, each followed by a LayerNormalization ``norm_<i>``, then ``head``."""
    inputs = keras.Input((6,))
    x = inputs
    for i in range(2):
        x = keras.layers.LayerNormalization(name=f"norm_{i}")(keras.layers.Dense(8, name=f"block_{i}")(x))
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x), name="blocks_net")


def _layerwise_config() -> TrialConfig:
    """Adam with L2 decay: layer-wise lr decay over encoder/decoder, onecycle with its
    momentum cycled, epoch granularity and a weight decay that follows the lr; norm weights without decay."""
    groups = [
        GroupConfig("head", 0.01, params=["head/*"], betas=(0.9, 0.99), weight_decay=1e-2,
                    schedule=ScheduleConfig("onecycle", momentum="inverse", momentum_base=0.8)),
        GroupConfig("blocks", 0.005, layerwise=r"(?:block|norm)_(\d+)/.*", layer_decay=0.5, betas=(0.95, 0.999),
                    weight_decay=1e-3, freeze_epochs=1,
                    schedule=ScheduleConfig("cosine", warmup=0.3, granularity="epoch", weight_decay="follow_lr")),
    ]
    return TrialConfig(4, seed=3, optimizers=[OptimizerConfig("main", "adam", weight_decay_exclude=["norm"],
                                                              groups=groups)])


def _compare(config: TrialConfig, model: Any, tmp_path: Path, name: str) -> None:
    ctx = TrialContext(config=config, objective="val_accuracy")
    ours, _ = fit_setup(ctx, model, steps_per_epoch=STEPS)
    source = keras_snippet(config, title="test", steps_per_epoch=STEPS, module=name)
    assert not re.search(r"^\s*(import|from) lrsearch", source, re.MULTILINE)
    snippet = _load(source, tmp_path / f"{name}.py")
    theirs = snippet.build_optimizer(model, steps_per_epoch=STEPS)
    assert type(theirs).__module__ == name and theirs.algorithm == ours.algorithm
    assert theirs.options == ours.options
    drop = lambda groups: [{k: v for k, v in g.items() if k != "schedule"} for g in groups]  # noqa: E731
    assert drop(theirs.groups) == drop(ours.groups)
    np.testing.assert_array_equal(theirs._tables, ours._tables)  # to the last bit, every step of the run


def test_the_keras_snippet_builds_lrsearchs_optimizer(tmp_path: Path) -> None:
    _compare(fit_probe.config("sgd", 3), fit_probe.model(), tmp_path, "best_sgd")
    _compare(fit_probe.config("adamw", 3), fit_probe.model(), tmp_path, "best_adamw")


def test_the_keras_snippet_with_layerwise_decay_and_moving_momentum(tmp_path: Path) -> None:
    config = _layerwise_config()
    model = _blocks_model()
    _compare(config, model, tmp_path, "best_layerwise")
    ours, _ = fit_setup(TrialContext(config=config, objective="val_accuracy"), model, steps_per_epoch=STEPS)
    names = [g["name"] for g in ours.groups]
    assert names == ["head", "blocks.0", "blocks.0.no_decay", "blocks.1", "blocks.1.no_decay"]
    assert len(set(ours._tables[0, 1])) > 2  # the head's beta1 moves


def test_the_snippets_table_prints_the_recorded_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snippet = _load(keras_snippet(fit_probe.config("sgd", 3), title="test", steps_per_epoch=STEPS, module="best_print"),
                    tmp_path / "best_print.py")
    snippet.print_schedule()  # what `python best_trial.py` prints
    out = capsys.readouterr().out
    assert "optimizer main: sgd, 5 steps an epoch" in out
    # the backbone's linear decay from 0.02 to 0.002 over 15 steps: 0.014 after epoch 1
    assert "    epoch 1: lr 0.014, momentum 0.8, weight decay 0.001" in out


def test_best_keras_rejects_an_optimizer_the_keras_snippet_lacks() -> None:
    config = fit_probe.config("sgd", 3)
    config.optimizers[0].name = "rmsprop"
    with pytest.raises(Exception, match="rmsprop.*sgd, adam, adamw"):
        keras_snippet(config, title="test")
