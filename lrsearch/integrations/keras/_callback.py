"""The ``model.fit`` side of a trial: a callback that reports each epoch to the trial, and the one-line setup.

Keras's epoch logs become the trial's metrics (``loss`` -> ``train_loss``, ``accuracy`` -> ``train_accuracy``,
``val_*`` as they are), and the rows recorded with them hold each group's effective values read back from the
:class:`GroupOptimizer` (its ``iterations`` counter and the tables its update uses), exactly as the managed loop
records torch param groups. A pruned trial stops ``fit`` at the end of that epoch (``model.stop_training``) and
``fit`` then raises ``optuna.TrialPruned``, as a pruned trial of the managed loop does.
"""

from __future__ import annotations

import sys
from typing import Any

import keras

from lrsearch.integrations.keras._groups import optimizer_groups
from lrsearch.integrations.keras._optimizer import GroupOptimizer


def epoch_metrics(logs: dict[str, Any] | None) -> dict[str, float]:
    """Keras epoch logs as lrsearch metric names: ``loss`` -> ``train_loss``, ``x`` -> ``train_x``, ``val_x`` kept."""
    metrics = {}
    for key, value in (logs or {}).items():
        if key == "learning_rate":  # the optimizer's global multiplier, not a metric
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        metrics[key if key.startswith("val_") else f"train_{key}"] = number
    return metrics


class TrialCallback(keras.callbacks.Callback):
    """Reports every epoch of ``model.fit`` to the trial ``ctx`` and stops ``fit`` when the trial is pruned.

    - Before training it lays the optimizer's schedules out over ``fit``'s batches an epoch (unless it was built
      with ``steps_per_epoch``, which must then agree) and checks that ``fit`` runs ``ctx.epochs`` epochs.
    - At each epoch start it checks that the epoch starts where the schedules and freezing expect it
      (``iterations == epoch * steps_per_epoch``) and, with ``verbose``, says which groups freeze or unfreeze.
    - At each epoch end it calls ``ctx.report`` with the epoch's logs; in confirmation runs
      (``ctx.evaluate_test``) the last epoch's also hold ``test_*`` metrics of ``model.evaluate(*test_data)``. A pruned or failed trial (NaN objective,
      timeout) stops training; ``fit`` raises the reason when it ends (``optuna.TrialPruned``, ...).
    """

    def __init__(self, ctx: Any, optimizer: GroupOptimizer, *, key: str | None = None, test_data: Any = None,
                 verbose: bool = False) -> None:
        super().__init__()
        self.ctx, self.optimizer, self.test_data, self.verbose = ctx, optimizer, test_data, verbose
        self.stopped: BaseException | None = None
        self._frozen: list[bool] | None = None
        ctx.attach(key, optimizer, values=optimizer.group_values,
                   steps=lambda: int(keras.ops.convert_to_numpy(optimizer.iterations)))

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        steps, epochs = self.params.get("steps"), self.params.get("epochs")
        if self.optimizer.steps_per_epoch is None:
            if not steps:
                raise ValueError("fit does not know its batches an epoch (a dataset of unknown length): pass "
                                 "steps_per_epoch to lrsearch.integrations.keras.fit_setup(...) and to fit")
            self.optimizer.set_steps_per_epoch(int(steps))
        elif steps and int(steps) != self.optimizer.steps_per_epoch:
            raise ValueError(f"fit runs {steps} batches an epoch, but the optimizer's schedules were laid out for "
                             f"steps_per_epoch={self.optimizer.steps_per_epoch}; give fit_setup the same number")
        if epochs is not None and int(epochs) != self.ctx.epochs:
            raise ValueError(f"fit(epochs={epochs}), but the trial trains for {self.ctx.epochs} epochs "
                             "(budget.epochs); pass epochs=ctx.epochs")
        self.stopped = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        opt = self.optimizer
        start = epoch * opt.steps_per_epoch
        iterations = int(keras.ops.convert_to_numpy(opt.iterations))
        if iterations != start:
            raise ValueError(f"epoch {epoch + 1} starts at optimizer step {iterations}, not {start} (epoch x "
                             f"{opt.steps_per_epoch} batches): the groups' schedules and freezing would be off")
        frozen = opt.frozen_at(start)
        if self.verbose and frozen != self._frozen:
            names = [g["name"] for g, f in zip(opt.groups, frozen, strict=True) if f]
            print(f"lrsearch: epoch {epoch + 1}: frozen groups: {', '.join(names) or 'none'}", file=sys.stderr)
        self._frozen = frozen

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        import optuna

        from lrsearch.training import TrialFailed

        metrics = epoch_metrics(logs)
        if self.test_data is not None and self.ctx.evaluate_test and epoch + 1 == self.ctx.epochs:
            x, y = self.test_data
            scores = self.model.evaluate(x, y, verbose=0, return_dict=True)
            metrics.update({f"test_{k}": float(v) for k, v in scores.items()})
        if self.ctx.objective not in metrics:
            raise ValueError(f"the epoch logs have {', '.join(sorted(metrics)) or 'nothing'}, not the objective "
                             f"{self.ctx.objective!r}: compile the model with that metric (and pass validation_data "
                             "for val_ metrics)")
        try:
            self.ctx.report(epoch + 1, metrics)
        except (optuna.TrialPruned, TrialFailed) as exc:
            self.stopped = exc
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.stopped is not None:
            stopped, self.stopped = self.stopped, None
            raise stopped


def fit_setup(ctx: Any, model: Any, *, steps_per_epoch: int | None = None, key: str | None = None,
              test_data: Any = None, verbose: bool = False) -> tuple[GroupOptimizer, list[keras.callbacks.Callback]]:
    """The trial's optimizer and callbacks for ``model.fit``, in one line of a ``train(ctx)`` function::

        optimizer, callbacks = fit_setup(ctx, model)
        model.compile(optimizer=optimizer, loss=..., metrics=["accuracy"])
        model.fit(x, y, validation_data=(xv, yv), epochs=ctx.epochs, callbacks=callbacks)

    ``model`` must be built (its variables exist). ``steps_per_epoch``: batches an epoch; by default the callback
    takes it from ``fit``. ``key`` names the optimizer in a study with several. ``test_data``: ``(x, y)`` of the
    held-out split, evaluated after the last epoch of confirmation runs (``lrsearch confirm``), which need it.
    """
    opt_config = ctx._opt_config(key)
    algorithm, groups = optimizer_groups(model, opt_config)
    optimizer = GroupOptimizer(groups, algorithm=algorithm, steps_per_epoch=steps_per_epoch, epochs=ctx.epochs,
                               options=dict(opt_config.options), name=f"lrsearch_{opt_config.key}")
    return optimizer, [TrialCallback(ctx, optimizer, key=key, test_data=test_data, verbose=verbose)]

