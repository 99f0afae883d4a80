"""Keras 3 ``model.fit`` with lrsearch's per-group learning rates, schedules and freezing, on every backend.

In a study's own training function (``task: {train: my_pkg.tasks:train}``), one line gives ``fit`` the trial's
optimizer and callbacks::

    import os
    os.environ.setdefault("KERAS_BACKEND", "jax")   # or tensorflow, torch; before Keras is imported
    import keras
    from lrsearch.integrations.keras import fit_setup

    def train(ctx):
        model = build_my_model()                        # built: its variables exist
        optimizer, callbacks = fit_setup(ctx, model)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, batch_size=ctx.batch_size, epochs=ctx.epochs, validation_data=(xv, yv),
                  callbacks=callbacks)

- :class:`GroupOptimizer`: SGD, Adam or AdamW with parameter groups (torch's update rules in ``keras.ops``); it
  serialises with the model (``get_config``/``from_config``), so ``keras.models.load_model`` brings it back
  after ``import lrsearch.integrations.keras``.
- :class:`TrialCallback`: reports each epoch's logs to the trial, with each group's effective values, and stops
  a pruned trial.
- :func:`fit_setup`: both, from the trial's groups (patterns on Keras variable paths, as on the torch backend).

Importing this package imports Keras.
"""

from lrsearch.integrations.keras._callback import TrialCallback, epoch_metrics, fit_setup
from lrsearch.integrations.keras._groups import named_variables, optimizer_groups, resolve_keras_groups
from lrsearch.integrations.keras._optimizer import ALGORITHMS, GroupOptimizer

__all__ = [
    "ALGORITHMS",
    "GroupOptimizer",
    "TrialCallback",
    "epoch_metrics",
    "fit_setup",
    "named_variables",
    "optimizer_groups",
    "resolve_keras_groups",
]
