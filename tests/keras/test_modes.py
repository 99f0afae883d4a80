"""Training vs inference mode, detection, and the KERAS_BACKEND=torch requirement."""

from __future__ import annotations

import subprocess
import sys

import keras
import pytest
import torch
from torch import nn

from lrsearch.errors import TaskError
from lrsearch.keras import KerasModule, import_keras, is_keras_model, named_parameters, prepare_model
from tests.conftest import ROOT, run_cli
from tests.keras.models import functional_model, subclassed_model


def moving_mean(model: keras.Model) -> torch.Tensor:
    return model.get_layer("backbone").get_layer("bn").moving_mean.value.detach().clone()


def test_keras_ignores_torch_train_mode_so_a_plain_torch_loop_would_train_in_inference_mode() -> None:
    """Why the adapter exists: this is Keras's behaviour on the torch backend, checked so a change shows up."""
    model = functional_model()
    model.train()
    x = torch.randn(16, 6)
    before = moving_mean(model)
    assert torch.equal(model(x), model(x))  # dropout never applied
    assert torch.equal(moving_mean(model), before)  # BatchNormalization statistics never updated


@pytest.mark.parametrize("build", [functional_model, subclassed_model], ids=["functional", "subclassed"])
def test_train_and_eval_decide_keras_training_flag(build) -> None:
    keras_model = build()
    module = prepare_model(keras_model)
    assert isinstance(module, KerasModule) and module.keras_model is keras_model
    x = torch.randn(32, 6)
    module.train()
    assert not torch.equal(module(x), module(x))  # dropout is active
    module.eval()
    with torch.no_grad():
        assert torch.equal(module(x), module(x))
        assert torch.equal(module(x), keras_model(x, training=False))
        assert not torch.equal(module(x, training=True), module(x, training=True))  # an explicit training= wins


def test_batch_norm_statistics_move_in_train_mode_only() -> None:
    keras_model = functional_model()
    module = prepare_model(keras_model)
    x = torch.randn(32, 6) + 3.0
    module.eval()
    before = moving_mean(keras_model)
    module(x)
    assert torch.equal(moving_mean(keras_model), before)
    module.train()
    module(x)
    after = moving_mean(keras_model)
    assert not torch.equal(after, before)
    bn = keras_model.get_layer("backbone").get_layer("bn")
    assert bn.moving_mean.value is dict(named_parameters(keras_model))["backbone/bn/moving_mean"]  # updated in place


def test_prepare_model_leaves_torch_models_and_wrapped_models_alone() -> None:
    linear = nn.Linear(2, 2)
    assert prepare_model(linear) is linear and not is_keras_model(linear)
    wrapped = prepare_model(functional_model())
    assert prepare_model(wrapped) is wrapped and is_keras_model(wrapped)
    with pytest.raises(TypeError, match="wraps a Keras 3 model"):
        KerasModule(linear)


@pytest.fixture
def jax_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keras reporting another backend (jax is not installed here, so Keras itself cannot switch to it)."""
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")


def test_a_keras_model_on_another_backend_is_a_clear_error(jax_backend: None) -> None:
    model = functional_model()
    for call in (prepare_model, named_parameters, KerasModule):
        with pytest.raises(TaskError, match="'jax' backend.*Set KERAS_BACKEND=torch before Keras is imported"):
            call(model)


def test_preflight_refuses_the_keras_task_on_another_backend(jax_backend: None) -> None:
    from lrsearch.api import preflight
    from lrsearch.config import load_spec

    with pytest.raises(TaskError, match="KERAS_BACKEND=torch"):
        preflight(load_spec(ROOT / "studies" / "keras_transfer.yaml"))


def test_missing_keras_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keras", None)  # `import keras` now raises ImportError
    with pytest.raises(TaskError, match=r"needs Keras 3: pip install 'lrsearch\[keras\]'"):
        import_keras("task 'x'")


@pytest.mark.slow
def test_cli_with_another_keras_backend_exits_2_saying_what_to_set() -> None:
    proc = run_cli("validate", "--model", str(ROOT / "studies" / "keras_transfer.yaml"), env={"KERAS_BACKEND": "jax"})
    assert proc.returncode == 2, proc.stderr
    assert "Set KERAS_BACKEND=torch" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_lrsearch_does_not_import_keras_for_torch_studies() -> None:
    code = ("import sys, lrsearch.api, lrsearch.cli, lrsearch.groups, lrsearch.keras, lrsearch.tasks, "
            "lrsearch.training; print('keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
