"""What a Keras user who gets the fit integration wrong is told (Keras's torch backend, in this process)."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest

from lrsearch.errors import GroupError
from lrsearch.integrations.keras import GroupOptimizer, epoch_metrics, fit_setup
from lrsearch.training import TrialContext
from lrsearch.trial_config import TrialConfig
from tests.keras import fit_probe

# Keras's torch backend converts with np.array(x): NumPy 2 deprecation noise, nothing a user can fix
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras")


def _ctx(config: TrialConfig) -> TrialContext:
    return TrialContext(config=config, objective="val_accuracy", batch_size=fit_probe.BATCH)


def _compiled(ctx: TrialContext, **setup: object) -> tuple[keras.Model, list]:
    model = fit_probe.model()
    optimizer, callbacks = fit_setup(ctx, model, **setup)  # type: ignore[arg-type]
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model, callbacks


def test_an_optimizer_the_keras_integration_lacks_is_named_with_the_ones_it_has() -> None:
    config = fit_probe.config("sgd", 3)
    config.optimizers[0].name = "rmsprop"
    with pytest.raises(GroupError, match="'rmsprop' is not available for Keras fit; .* has sgd, adam, adamw"):
        fit_setup(_ctx(config), fit_probe.model())


def test_a_pattern_matching_no_keras_variable_lists_the_names() -> None:
    config = fit_probe.config("sgd", 3)
    config.optimizers[0].groups[0] = dataclasses.replace(config.optimizers[0].groups[0], params=["classifier/*"])
    with pytest.raises(GroupError, match="classifier/\\*.*head/kernel"):
        fit_setup(_ctx(config), fit_probe.model())


def test_fit_for_another_number_of_epochs_than_the_trial_is_refused() -> None:
    x, y, _, _ = fit_probe.data()
    model, callbacks = _compiled(_ctx(fit_probe.config("sgd", 3)))
    with pytest.raises(ValueError, match=r"fit\(epochs=2\), but the trial trains for 3 epochs"):
        model.fit(x, y, batch_size=fit_probe.BATCH, epochs=2, verbose=0, callbacks=callbacks)


def test_fit_with_other_batches_an_epoch_than_the_schedules_is_refused() -> None:
    x, y, _, _ = fit_probe.data()
    model, callbacks = _compiled(_ctx(fit_probe.config("sgd", 3)), steps_per_epoch=4)
    with pytest.raises(ValueError, match="fit runs 5 batches an epoch, but .* steps_per_epoch=4"):
        model.fit(x, y, batch_size=fit_probe.BATCH, epochs=3, verbose=0, callbacks=callbacks)


def test_an_objective_missing_from_the_logs_says_what_to_compile() -> None:
    x, y, _, _ = fit_probe.data()
    model, callbacks = _compiled(_ctx(fit_probe.config("sgd", 3)))
    with pytest.raises(ValueError, match="not the objective 'val_accuracy'.*pass validation_data"):
        model.fit(x, y, batch_size=fit_probe.BATCH, epochs=3, verbose=0, callbacks=callbacks)


def test_the_optimizer_without_the_callback_needs_steps_per_epoch() -> None:
    x, y, _, _ = fit_probe.data()
    model = fit_probe.model()
    optimizer, _ = fit_setup(_ctx(fit_probe.config("sgd", 3)), model)
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(ValueError, match="steps_per_epoch is not set"):
        model.fit(x, y, batch_size=fit_probe.BATCH, epochs=1, verbose=0)


def test_a_variable_in_no_group_is_named() -> None:
    groups = [{"name": "head", "variables": ["head/kernel", "head/bias"], "lr": 0.1, "schedule": {}}]
    optimizer = GroupOptimizer(groups, steps_per_epoch=5, epochs=1)
    with pytest.raises(ValueError, match="2 trainable variable\\(s\\) are in no group: backbone/dense/kernel"):
        optimizer.build(fit_probe.model().trainable_variables)


def test_epoch_logs_become_lrsearch_metric_names() -> None:
    logs = {"loss": 0.5, "accuracy": np.float32(0.75), "val_loss": 0.6, "val_accuracy": 0.7, "learning_rate": 1.0}
    assert epoch_metrics(logs) == {"train_loss": 0.5, "train_accuracy": 0.75, "val_loss": 0.6, "val_accuracy": 0.7}


def test_unsupported_options_are_named() -> None:
    groups = [{"name": "all", "variables": [], "lr": 0.1, "schedule": {}}]
    with pytest.raises(ValueError, match="unsupported option\\(s\\) amsgrad; supported: eps, decoupled_weight_decay"):
        GroupOptimizer(groups, algorithm="adam", options={"amsgrad": True})
    GroupOptimizer(groups, algorithm="adam", options={"amsgrad": False, "foreach": True})  # off / speed only

