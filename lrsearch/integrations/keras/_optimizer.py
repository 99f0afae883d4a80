"""A Keras 3 optimizer with parameter groups: per-group lr, momentum/beta1, weight decay, schedule and freezing.

Keras optimizers have one learning rate for every variable; this one has lrsearch's groups. Each group names
its variables (Keras variable paths), and has its own lr, momentum (SGD) or beta1 (Adam, AdamW), weight decay,
``freeze_epochs`` and schedule. The update rules are torch's (``torch.optim.SGD``, ``Adam``, ``AdamW``) written in
``keras.ops``, so it runs on the JAX, TensorFlow and PyTorch backends, compiled or not, and a trial means the same
thing whichever backend trains it:

- SGD: ``d = g + wd * p``; ``buf = d`` on a group's first step, else ``buf = momentum * buf + (1 - dampening) *
  d``; ``p -= lr * (d + momentum * buf if nesterov else buf)``.
- Adam: ``g += wd * p`` (AdamW: ``p *= 1 - lr * wd``); ``m, v`` moving averages; bias corrections
  ``1 - beta ** t`` with ``t`` counted from the group's first trained step.

The schedules are tables (see ``_tables``) indexed by the optimizer's ``iterations`` counter, so they are
exact on a compiled step and resume where they were when a saved model is loaded. A group is frozen (its
variables and slots are left as they are) while ``iterations < freeze_epochs * steps_per_epoch``: freezing lives
in the optimizer, because changing ``trainable`` during ``fit`` needs a recompile and is not seen at all by a
compiled JAX step. ``learning_rate`` (1.0) multiplies every group's lr, so Keras's own lr callbacks
(``ReduceLROnPlateau``) still act on all groups.

Everything below the marker uses only ``numpy`` and ``keras`` plus a ``group_tables`` function:
``lrsearch best --keras`` copies it into a file that does not import lrsearch.
"""

from __future__ import annotations

import keras
import numpy as np

from lrsearch.integrations.keras._tables import group_tables

# -- code --

ALGORITHMS = {
    "sgd": {"nesterov": False, "dampening": 0.0},
    "adam": {"eps": 1e-8, "decoupled_weight_decay": False},
    "adamw": {"eps": 1e-8},
}
# torch options that change speed, not arithmetic, and ones that are fine while off
IGNORED_OPTIONS = ("foreach", "fused", "capturable", "differentiable")
OFF_OPTIONS = ("amsgrad", "maximize")


def _scope_free(path):
    """A variable path without its first scope: ``mlp_3/body/kernel`` -> ``body/kernel`` (for renamed models)."""
    return path.split("/", 1)[1] if "/" in path else path


@keras.saving.register_keras_serializable(package="lrsearch")
class GroupOptimizer(keras.optimizers.Optimizer):
    """SGD, Adam or AdamW with parameter groups, each with its own values, schedule and freezing.

    Args:
        groups: One dict per group, in order: ``name``; ``variables`` (Keras variable paths; a path also matches
            a variable whose path differs only in its first scope, the model's own name); ``lr`` (the schedule's
            peak); ``momentum`` (SGD momentum or Adam beta1; None: 0 for SGD, 0.9 for Adam); ``beta2`` (Adam);
            ``weight_decay``; ``freeze_epochs``; ``schedule`` (lrsearch's ``ScheduleConfig`` as a dict).
        algorithm: ``sgd``, ``adam`` or ``adamw``.
        steps_per_epoch: Batches an epoch; the schedules and freezing are laid out with it. None: set it before
            training (``lrsearch.integrations.keras.TrialCallback`` takes it from ``fit``).
        epochs: Epochs of the run; past ``steps_per_epoch * epochs`` values hold.
        options: torch's options of the algorithm: SGD ``nesterov``, ``dampening``; Adam ``eps``,
            ``decoupled_weight_decay``; AdamW ``eps``.
        learning_rate: A multiplier on every group's lr (Keras lr callbacks change it); 1.0 trains as sampled.
    """

    def __init__(self, groups, algorithm="sgd", steps_per_epoch=None, epochs=1, options=None, learning_rate=1.0,
                 name="group_optimizer", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if algorithm not in ALGORITHMS:
            raise ValueError(f"GroupOptimizer algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
        options = dict(options or {})
        for key in IGNORED_OPTIONS:
            options.pop(key, None)
        for key in OFF_OPTIONS:
            if key in options and not options[key]:
                del options[key]
        unknown = sorted(set(options) - set(ALGORITHMS[algorithm]))
        if unknown:
            raise ValueError(f"GroupOptimizer {algorithm}: unsupported option(s) {', '.join(unknown)}; supported: "
                             f"{', '.join(ALGORITHMS[algorithm]) or 'none'}")
        if not groups:
            raise ValueError("GroupOptimizer needs at least one group")
        self.algorithm = algorithm
        self.options = {**ALGORITHMS[algorithm], **{k: options[k] for k in ALGORITHMS[algorithm] if k in options}}
        adam = algorithm != "sgd"
        self.groups = []
        for g in groups:
            momentum = g.get("momentum")
            if momentum is None:
                momentum = 0.9 if adam else 0.0
            self.groups.append({
                "name": str(g["name"]), "variables": [str(v) for v in g["variables"]], "lr": float(g["lr"]),
                "momentum": float(momentum), "beta2": float(g.get("beta2") or 0.999) if adam else None,
                "weight_decay": float(g.get("weight_decay") or 0.0), "freeze_epochs": int(g.get("freeze_epochs") or 0),
                "schedule": dict(g.get("schedule") or {}),
            })
        self.epochs = int(epochs)
        self.steps_per_epoch = None
        self._tables = None
        self._constants = {}
        if steps_per_epoch is not None:
            self.set_steps_per_epoch(steps_per_epoch)

    # -- the schedule --------------------------------------------------------------------------------------

    def set_steps_per_epoch(self, steps_per_epoch):
        """Lay the schedules and freezing out over ``steps_per_epoch`` batches an epoch (before training)."""
        if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be a positive int (batches an epoch), got {steps_per_epoch!r}")
        if steps_per_epoch == self.steps_per_epoch:
            return
        if self._tables is not None and self.built and int(keras.ops.convert_to_numpy(self.iterations)) > 0:
            raise ValueError(f"this optimizer has trained with steps_per_epoch={self.steps_per_epoch}; it cannot "
                             f"change to {steps_per_epoch}")
        self.steps_per_epoch = steps_per_epoch
        self._tables = np.asarray(group_tables(self.groups, steps_per_epoch, self.epochs), dtype="float64")
        self._constants = {}

    @property
    def total_steps(self):
        return self.steps_per_epoch * self.epochs

    def _table(self, dtype):
        if self._tables is None:
            raise ValueError("GroupOptimizer: steps_per_epoch is not set; pass it, or train with "
                             "lrsearch.integrations.keras.TrialCallback, which takes it from fit")
        if keras.backend.backend() != "torch":  # inside jit/tf.function: a constant of the traced step
            return keras.ops.convert_to_tensor(self._tables, dtype=dtype)
        if dtype not in self._constants:  # eager torch: convert once, not every step
            self._constants[dtype] = keras.ops.convert_to_tensor(self._tables, dtype=dtype)
        return self._constants[dtype]

    def values_at(self, step):
        """Each group's ``(lr, momentum, weight_decay)`` for the update of ``step`` (0-based), as floats."""
        index = min(max(int(step), 0), self.total_steps)
        return [tuple(float(x) for x in self._tables[i, :, index]) for i in range(len(self.groups))]

    def frozen_at(self, step):
        """Each group: is it frozen in the update of ``step`` (0-based)?"""
        return [int(step) < g["freeze_epochs"] * self.steps_per_epoch for g in self.groups]

    def group_values(self):
        """Each group's effective values now, read from the optimizer's ``iterations``: the lr, momentum (beta1)
        and weight decay of the next update (as torch param groups hold them after ``scheduler.step()``), and
        whether the group was frozen in the last update."""
        step = int(keras.ops.convert_to_numpy(self.iterations))
        scale = float(keras.ops.convert_to_numpy(self.learning_rate))
        frozen = self.frozen_at(max(step - 1, 0))
        rows = []
        for g, (lr, momentum, weight_decay), is_frozen in zip(self.groups, self.values_at(step), frozen, strict=True):
            rows.append({"group_name": g["name"], "lr": lr * scale, "momentum": momentum,
                         "weight_decay": weight_decay, "frozen": is_frozen})
        return rows

    def _step_values(self, group, step, dtype):
        values = keras.ops.take(self._table(dtype)[group], keras.ops.minimum(step, self.total_steps), axis=1)
        return values[0], values[1], values[2]

    def device_values(self):
        """What the next update uses, computed as the update computes it (in the variables' dtype): each group's
        ``(lr, momentum, weight_decay)``, lr times ``learning_rate``."""
        step = keras.ops.cast(self.iterations, "int32")
        scale = keras.ops.cast(self.learning_rate, "float32")
        out = []
        for i in range(len(self.groups)):
            lr, momentum, weight_decay = self._step_values(i, step, "float32")
            out.append(tuple(float(keras.ops.convert_to_numpy(x)) for x in (lr * scale, momentum, weight_decay)))
        return out

    # -- Keras optimizer API --------------------------------------------------------------------------------

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        by_name = {}
        for i, g in enumerate(self.groups):
            for path in g["variables"]:
                by_name[path] = i
                by_name.setdefault(_scope_free(path), i)
        self._group_of = []
        unknown = []
        for variable in variables:
            index = by_name.get(variable.path, by_name.get(_scope_free(variable.path)))
            if index is None:
                unknown.append(variable.path)
            self._group_of.append(index)
        if unknown:
            raise ValueError(f"GroupOptimizer: {len(unknown)} trainable variable(s) are in no group: "
                             f"{', '.join(unknown[:10])}; its groups hold {sum(len(g['variables']) for g in self.groups)}"
                             " variable(s) of the model it was made for")
        self._momentums = [self.add_variable_from_reference(v, "momentum") for v in variables]
        if self.algorithm != "sgd":
            self._velocities = [self.add_variable_from_reference(v, "velocity") for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        ops = keras.ops
        index = self._get_variable_index(variable)
        group = self._group_of[index]
        g = self.groups[group]
        dtype = variable.dtype
        step = ops.cast(self.iterations, "int32")
        lr, momentum, weight_decay = self._step_values(group, step, dtype)
        lr = lr * ops.cast(learning_rate, dtype)
        first = g["freeze_epochs"] * self.steps_per_epoch  # the group's first trained step
        frozen = ops.less(step, first)
        grad = ops.cast(gradient, dtype)
        value = ops.convert_to_tensor(variable)
        buf = ops.convert_to_tensor(self._momentums[index])
        if self.algorithm == "sgd":
            d = grad + weight_decay * value
            fresh = ops.equal(step, first)
            new_buf = ops.where(fresh, d, momentum * buf + (1.0 - self.options["dampening"]) * d)
            direction = d + momentum * new_buf if self.options["nesterov"] else new_buf
            new_value = value - lr * direction
        else:
            velocity = ops.convert_to_tensor(self._velocities[index])
            decoupled = self.algorithm == "adamw" or self.options.get("decoupled_weight_decay")
            base = value * (1.0 - lr * weight_decay) if decoupled else value
            if not decoupled:
                grad = grad + weight_decay * value
            beta2 = g["beta2"]
            new_buf = momentum * buf + (1.0 - momentum) * grad
            new_velocity = beta2 * velocity + (1.0 - beta2) * ops.square(grad)
            t = ops.cast(ops.maximum(step - first + 1, 1), dtype)
            correction1 = 1.0 - ops.power(momentum, t)
            correction2 = 1.0 - ops.power(ops.cast(beta2, dtype), t)
            denom = ops.sqrt(new_velocity) / ops.sqrt(correction2) + self.options["eps"]
            new_value = base - (lr / correction1) * new_buf / denom
            self.assign(self._velocities[index], ops.where(frozen, velocity, new_velocity))
        self.assign(self._momentums[index], ops.where(frozen, buf, new_buf))
        self.assign(variable, ops.where(frozen, value, new_value))

    def get_config(self):
        config = super().get_config()
        config.update({"groups": [dict(g) for g in self.groups], "algorithm": self.algorithm,
                       "steps_per_epoch": self.steps_per_epoch, "epochs": self.epochs, "options": dict(self.options)})
        return config
