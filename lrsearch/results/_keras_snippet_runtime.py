"""The code part of the plain-Keras file that ``lrsearch best --keras`` writes.

Copied into that file verbatim (minus the placeholder block), below the trial's data (``OPTIMIZERS``, ``EPOCHS``),
the schedule shapes' own functions (``SHAPES``) and ``schedule_values`` (the torch snippet's, the same
arithmetic as lrsearch's), and above a copy of :class:`lrsearch.integrations.keras.GroupOptimizer`. It forms the
groups from Keras variable paths as lrsearch does (globs, ``re:`` regexes, ``rest``, layer-wise decay, the
no-decay split) and lays each group's schedule out as the table the optimizer indexes. Nothing here may import
lrsearch.
"""

# ruff: noqa: E731

import fnmatch
import re

import keras
import numpy as np

# Placeholders: the file defines these above the copied code.
OPTIMIZERS: dict = {}
EPOCHS = 1
STEPS_PER_EPOCH = 1


def schedule_values(schedule, steps_per_epoch, epochs=None):  # the torch snippet's, copied above
    raise NotImplementedError


GroupOptimizer = keras.optimizers.Optimizer  # lrsearch's, copied below


# -- code --

_NORM_NAME = re.compile(r"(Batch|Layer|Group|Instance|RMS)Norm")


def _matcher(pattern):
    """``re:<regex>`` must match the whole name; anything else is a glob whose ``*`` also crosses ``/``."""
    if pattern.startswith("re:"):
        regex = re.compile(pattern[3:])
        return lambda name: regex.fullmatch(name) is not None
    return lambda name: fnmatch.fnmatchcase(name, pattern)


def variable_names(model):
    """``(name, variable)`` of the trainable variables: the Keras path less the model's own name in front."""
    prefix = f"{model.name}/"
    return [(v.path.removeprefix(prefix), v) for v in model.variables if v.trainable]


def _layer_variables(model, named, accept):
    name_of = {id(v): n for n, v in named}
    return {name_of[id(v)] for layer in model._flatten_layers(include_self=True, recursive=True) if accept(layer)
            for v in layer.variables if id(v) in name_of}


def _is_norm(layer):
    if isinstance(layer, keras.layers.Wrapper):
        return False
    return _NORM_NAME.search(type(layer).__name__) is not None


def _no_decay_names(model, named, exclude):
    """The variables ``weight_decay_exclude`` exempts: rules bias, norm, ndim1, embedding, or patterns."""
    names = set()
    for entry in exclude:
        if entry == "bias":
            names |= {n for n, _ in named if n.rsplit("/", 1)[-1] == "bias"}
        elif entry == "norm":
            names |= _layer_variables(model, named, _is_norm)
        elif entry == "ndim1":
            names |= {n for n, v in named if len(v.shape) <= 1}
        elif entry == "embedding":
            names |= _layer_variables(model, named, lambda layer: isinstance(layer, keras.layers.Embedding))
        else:
            hits = {n for n, _ in named if _matcher(entry)(n)}
            if not hits:
                raise ValueError(f"weight_decay_exclude {entry!r} matches no trainable variable")
            names |= hits
    return names


def _optimizer_spec(key):
    if key is None:
        if len(OPTIMIZERS) != 1:
            raise ValueError(f"this trial has several optimizers; name one of {', '.join(OPTIMIZERS)}")
        key = next(iter(OPTIMIZERS))
    if key not in OPTIMIZERS:
        raise ValueError(f"no optimizer {key!r}; this trial has {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[key]


def optimizer_groups(model, key=None):
    """The trial's groups over ``model`` (built), as GroupOptimizer takes them: one dict per group with its
    variables' paths. Order: the groups in order, a layer-wise group's layers by index, each ``<name>.no_decay``
    right after its group."""
    spec = _optimizer_spec(key)
    named = variable_names(model)
    trainable = [n for n, _ in named]
    claims = {}  # variable -> the groups that take it
    layer_of = {}
    for group in spec["groups"]:
        if group["rest"]:
            continue
        if group["layerwise"] is not None:
            regex = re.compile(group["layerwise"].removeprefix("re:"))
            members = []
            for name in trainable:
                match = regex.fullmatch(name)
                if match is not None:
                    layer_of[name] = int(match.group(1))
                    members.append(name)
            if not members:
                raise ValueError(f"group {group['name']!r}: layerwise {group['layerwise']!r} matches no variable")
        else:
            members = {}
            for pattern in group["params"]:
                hits = [n for n in trainable if _matcher(pattern)(n)]
                if not hits:
                    raise ValueError(f"group {group['name']!r}: pattern {pattern!r} matches no trainable variable")
                members.update(dict.fromkeys(hits))
        for name in members:
            claims.setdefault(name, []).append(group["name"])
    twice = [n for n, owners in claims.items() if len(owners) > 1]
    if twice:
        raise ValueError(f"variables in more than one group: {twice[:10]}")
    unclaimed = [n for n in trainable if n not in claims]
    if unclaimed and not any(g["rest"] for g in spec["groups"]):
        raise ValueError(f"variables in no group (add a rest group): {unclaimed[:10]}")

    resolved = []  # (name, group, member names, lr scale)
    for group in spec["groups"]:
        if group["rest"]:
            resolved.append((group["name"], group, unclaimed, 1.0))
        elif group["layerwise"] is not None:
            members = [n for n in trainable if group["name"] in claims.get(n, ())]
            layers = sorted({layer_of[n] for n in members})
            for rank, layer in enumerate(layers):
                power = len(layers) - rank  # the top layer gets lr * decay, the bottom lr * decay ** L
                resolved.append((f"{group['name']}.{layer}", group, [n for n in members if layer_of[n] == layer],
                                 group["layer_decay"] ** power))
        else:
            resolved.append((group["name"], group, [n for n in trainable if group["name"] in claims.get(n, ())], 1.0))

    no_decay = _no_decay_names(model, named, spec["weight_decay_exclude"])
    paths = {n: v.path for n, v in named}
    groups = []
    for name, group, members, scale in resolved:
        decayed = [n for n in members if n not in no_decay]
        exempt = [n for n in members if n in no_decay]
        for part_name, part, weight_decay in ((name, decayed, group["weight_decay"]), (name + ".no_decay", exempt, 0.0)):
            if part:
                betas = group["betas"]
                groups.append({
                    "name": part_name, "variables": [paths[n] for n in part], "lr": group["lr"] * scale,
                    "momentum": betas[0] if betas is not None else group["momentum"],
                    "beta2": betas[1] if betas is not None else None, "weight_decay": weight_decay,
                    "freeze_epochs": group["freeze_epochs"], "schedule": group["schedule"],
                })
    return groups


def group_tables(groups, steps_per_epoch, epochs):
    """``(groups, 3, steps_per_epoch * epochs + 1)``: each group's lr, momentum (beta1) and weight decay at every
    step; momentum moves between the group's value and ``momentum_base`` inversely to the lr where scheduled."""
    total = steps_per_epoch * epochs
    table = np.zeros((len(groups), 3, total + 1))
    for i, group in enumerate(groups):
        schedule = group["schedule"]
        values = schedule_values(schedule, steps_per_epoch, epochs)
        high = group["momentum"] or 0.0
        moves = schedule["momentum"] != "constant" and group["momentum"] is not None
        for step in range(total + 1):
            lr_factor, fraction, wd_factor = values(step)
            table[i, 0, step] = group["lr"] * lr_factor
            table[i, 1, step] = high - (high - schedule["momentum_base"]) * fraction if moves else high
            table[i, 2, step] = group["weight_decay"] * wd_factor
    return table


def build_optimizer(model, steps_per_epoch=None, key=None):
    """The trial's optimizer over ``model``: ``model.compile(optimizer=build_optimizer(model, len(x) // batch))``.

    ``steps_per_epoch``: batches an epoch of your ``fit`` (the schedules and freezing are laid out over it).
    """
    spec = _optimizer_spec(key)
    return GroupOptimizer(optimizer_groups(model, key), algorithm=spec["optimizer"], options=spec["options"],
                          steps_per_epoch=steps_per_epoch or STEPS_PER_EPOCH, epochs=EPOCHS)


def print_schedule(steps_per_epoch=None):
    """Each group's lr, momentum and weight decay at the end of every epoch (what lrsearch recorded)."""
    steps_per_epoch = steps_per_epoch or STEPS_PER_EPOCH
    for key, spec in OPTIMIZERS.items():
        print(f"optimizer {key}: {spec['optimizer']}, {steps_per_epoch} steps an epoch")
        for group in spec["groups"]:
            betas = group["betas"]
            table = group_tables([{**group, "momentum": betas[0] if betas else group["momentum"]}],
                                 steps_per_epoch, EPOCHS)[0]
            print(f"  {group['name']} ({group['schedule']['shape']}):")
            for epoch in range(1, EPOCHS + 1):
                lr, momentum, weight_decay = table[:, epoch * steps_per_epoch]
                print(f"    epoch {epoch}: lr {lr:.6g}, momentum {momentum:.6g}, weight decay {weight_decay:.6g}")
