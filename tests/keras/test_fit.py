"""model.fit with lrsearch's Keras optimizer and callback, on real Keras backends, each in its own process.

``tests/keras/fit_probe.py`` trains under ``KERAS_BACKEND=<backend>`` and writes what happened; these tests read
it. A backend whose package is not installed is skipped, saying what to install (scripts/test installs jax).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from lrsearch.schedules import lr_factor
from lrsearch.tasks import Split, Task
from lrsearch.training import NullRecorder, TrialContext, managed_train
from lrsearch.trial_config import TrialConfig
from tests.conftest import ROOT
from tests.keras import fit_probe

pytestmark = pytest.mark.slow  # model.fit on each Keras backend, once a module

BACKENDS = {"jax": "jax", "torch": "torch", "tensorflow": "tensorflow"}
STEPS = math.ceil(fit_probe.TRAIN / fit_probe.BATCH)


def _probe(backend: str, tmp: Path) -> dict[str, Any]:
    if importlib.util.find_spec(BACKENDS[backend]) is None:
        pytest.skip(f"Keras's {backend} backend needs {BACKENDS[backend]}: pip install -e '.[keras-{backend}]'")
    out = tmp / "probe.json"
    env = {**os.environ, "KERAS_BACKEND": backend, "OMP_NUM_THREADS": "1", "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false",
           "TF_NUM_INTEROP_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "tests.keras.fit_probe", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(out.read_text())
    assert result["backend"] == backend
    return result


@pytest.fixture(scope="module", params=["jax", "torch", "tensorflow"])
def probe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _probe(request.param, tmp_path_factory.mktemp(f"fit-{request.param}"))


def _expected_lr(config: TrialConfig, group_name: str, step: int) -> float:
    spec = {g.name: g for g in config.groups()}[group_name.removesuffix(".no_decay")]
    return spec.lr * lr_factor(spec.schedule, step, STEPS, config.epochs)


@pytest.mark.parametrize("name", ["sgd", "adamw"])
def test_every_groups_effective_lr_at_every_epoch_is_the_schedule(probe: dict[str, Any], name: str) -> None:
    run = probe[name]
    config = TrialConfig.from_dict(run["config"])
    assert run["steps_per_epoch"] == STEPS  # taken from fit
    assert [r["epoch"] for r in run["rows"]] == [1, 2, 3]
    for epoch, (row, snap) in enumerate(zip(run["rows"], run["snapshots"][1:], strict=True), start=1):
        step = epoch * STEPS
        assert row["step"] == snap["iterations"] == step
        for group, on_device in zip(row["groups"], snap["device_values"], strict=True):
            expected = _expected_lr(config, group["group_name"], step)
            assert group["lr"] == pytest.approx(expected, rel=1e-12), (epoch, group)
            # what the compiled update computes, in float32
            assert on_device[0] == pytest.approx(expected, rel=1e-6, abs=1e-12), (epoch, group["group_name"])
    assert {g["group_name"] for g in run["rows"][0]["groups"]} == {"head", "head.no_decay", "backbone",
                                                                 "backbone.no_decay"}


@pytest.mark.parametrize("name", ["sgd", "adamw"])
def test_weights_equal_torch_optim_with_the_managed_loops_scheduler(probe: dict[str, Any], name: str) -> None:
    """The same batches through torch.optim + GroupScheduler end at the same weights: lr, momentum/betas,
    weight decay, schedules and freezing all act as in the managed loop."""
    run = probe[name]
    final = run["snapshots"][-1]["weights"]
    for path, expected in run["torch_weights"].items():
        np.testing.assert_allclose(final[path], expected, rtol=1e-4, atol=1e-5, err_msg=path)
        assert not np.array_equal(final[path], run["snapshots"][0]["weights"][path]), path


def test_a_frozen_group_does_not_change_in_its_frozen_epochs(probe: dict[str, Any]) -> None:
    run = probe["sgd"]
    initial, *after = (s["weights"] for s in run["snapshots"])
    backbone = [p for p in initial if p.startswith("backbone/")]
    assert backbone == ["backbone/dense/kernel", "backbone/dense/bias"]
    for epoch in (0, 1):  # freeze_epochs=2
        for path in backbone:
            assert after[epoch][path] == initial[path], (epoch + 1, path)
        assert after[epoch]["head/kernel"] != initial["head/kernel"]
    assert all(after[2][path] != initial[path] for path in backbone)
    frozen = [{g["group_name"]: g["frozen"] for g in row["groups"]} for row in run["rows"]]
    assert frozen == [{"head": False, "head.no_decay": False, "backbone": f, "backbone.no_decay": f}
                      for f in (True, True, False)]


def test_pruning_stops_fit(probe: dict[str, Any]) -> None:
    run = probe["pruned"]
    assert run["outcome"].startswith("pruned: pruned at epoch 2")
    assert [r["epoch"] for r in run["rows"]] == [1, 2]
    assert run["snapshots"][-1]["iterations"] == 2 * STEPS  # of 4 epochs, no batch after the pruned epoch


def test_a_saved_model_reloads_with_its_optimizer(probe: dict[str, Any]) -> None:
    reloaded = probe["reloaded"]
    assert reloaded["class"] == "GroupOptimizer"
    assert reloaded["iterations"] == 3 * STEPS
    assert reloaded["config"] == reloaded["original_config"]
    assert reloaded["group_values"] == reloaded["original_group_values"]


def _managed_rows(config: TrialConfig) -> list[dict[str, Any]]:
    """What the managed loop records for the probe's model and data on Keras's torch backend."""
    x, y, xv, yv = (torch.from_numpy(a) for a in fit_probe.data())
    task = Task(name="probe", build_model=fit_probe.model, train=Split(x, y), val=Split(xv, yv), test=Split(xv, yv))
    recorder = NullRecorder()
    ctx = TrialContext(config=config, objective="val_accuracy", recorder=recorder, batch_size=fit_probe.BATCH)
    managed_train(ctx, task)
    return recorder.epochs


@pytest.mark.parametrize("name", ["sgd", "adamw"])
def test_recorded_rows_equal_the_managed_torch_loops(probe: dict[str, Any], name: str) -> None:
    run = probe[name]
    managed = _managed_rows(TrialConfig.from_dict(run["config"]))
    assert len(managed) == len(run["rows"]) == 3
    for torch_row, fit_row in zip(managed, run["rows"], strict=True):
        assert (torch_row["epoch"], torch_row["step"]) == (fit_row["epoch"], fit_row["step"])
        assert fit_row["groups"] == torch_row["groups"]
        assert set(torch_row["metrics"]) <= set(fit_row["metrics"])  # fit also logs train_accuracy

