"""The code part of the plain-PyTorch snippet that ``lrsearch best --python`` writes.

This module is copied into the snippet verbatim, below the trial's data (``OPTIMIZERS``, ``EPOCHS``) and the
schedule shapes' own functions (``SHAPES``), minus the placeholder block. It re-implements, in plain Python and
torch, what lrsearch does at run time: the group patterns (globs, ``re:`` regexes), the ``rest`` group, layer-wise
lr decay, the no-decay split, freezing, and the per-group schedules with warmup and granularity — with the same
arithmetic, so that the values match lrsearch's to the last bit. Nothing here may import lrsearch.
"""

# ruff: noqa: E731

import fnmatch
import importlib
import math
import re

import torch

# Placeholders: the snippet defines these above the copied code.
OPTIMIZERS: dict = {}
EPOCHS = 1
STEPS_PER_EPOCH = 1
SHAPES: dict = {}

# -- code --

_NORM_TYPES = (
    torch.nn.modules.batchnorm._NormBase,
    torch.nn.LayerNorm,
    torch.nn.GroupNorm,
    torch.nn.LocalResponseNorm,
    torch.nn.CrossMapLRN2d,
    *((torch.nn.RMSNorm,) if hasattr(torch.nn, "RMSNorm") else ()),
)
_EMBEDDING_TYPES = (torch.nn.Embedding, torch.nn.EmbeddingBag)
_NORM_NAME = re.compile(r"Norm(?!al)")  # custom norms (LlamaRMSNorm, FrozenBatchNorm2d) by class name


def _matcher(pattern):
    """``re:<regex>`` must match the whole name; anything else is a glob whose ``*`` also crosses dots."""
    if pattern.startswith("re:"):
        regex = re.compile(pattern[3:])
        return lambda name: regex.fullmatch(name) is not None
    return lambda name: fnmatch.fnmatchcase(name, pattern)


def _module_params(model, named, accept):
    name_of = {id(p): n for n, p in named}
    for module in model.modules():
        if accept(module):
            for param in module.parameters(recurse=False):
                if id(param) in name_of:
                    yield name_of[id(param)]


def _no_decay_names(model, named, exclude):
    """The parameters ``weight_decay_exclude`` exempts: rules bias, norm, ndim1, embedding, or patterns."""
    names = set()
    for entry in exclude:
        if entry == "bias":
            names |= {n for n, _ in named if n == "bias" or n.endswith(".bias")}
        elif entry == "norm":
            is_norm = lambda m: isinstance(m, _NORM_TYPES) or _NORM_NAME.search(type(m).__name__) is not None
            names |= set(_module_params(model, named, is_norm))
        elif entry == "ndim1":
            names |= {n for n, p in named if p.ndim <= 1}
        elif entry == "embedding":
            names |= set(_module_params(model, named, lambda m: isinstance(m, _EMBEDDING_TYPES)))
        else:
            hits = {n for n, _ in named if _matcher(entry)(n)}
            if not hits:
                raise ValueError(f"weight_decay_exclude {entry!r} matches no trainable parameter")
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


def param_groups(model, key=None):
    """The torch param groups of ``model`` as the trial had them (trainable parameters only; call this first).

    Order: the groups in order, a layer-wise group's layers by index, each ``<name>.no_decay`` right after its
    group. Each dict has ``params``, ``param_names``, ``lr``, ``weight_decay``, ``momentum`` or ``betas`` where
    the optimizer has them, and tags: ``name``, ``group`` (whose schedule it follows), ``frozen_until``.
    """
    spec = _optimizer_spec(key)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    trainable = [n for n, _ in named]
    claims = {}  # parameter -> the groups that take it
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
                raise ValueError(f"group {group['name']!r}: layerwise {group['layerwise']!r} matches no parameter")
        else:
            members = {}
            for pattern in group["params"]:
                hits = [n for n in trainable if _matcher(pattern)(n)]
                if not hits:
                    raise ValueError(f"group {group['name']!r}: pattern {pattern!r} matches no trainable parameter")
                members.update(dict.fromkeys(hits))
        for name in members:
            claims.setdefault(name, []).append(group["name"])
    twice = [n for n, owners in claims.items() if len(owners) > 1]
    if twice:
        raise ValueError(f"parameters in more than one group: {twice[:10]}")
    unclaimed = [n for n in trainable if n not in claims]
    if unclaimed and not any(g["rest"] for g in spec["groups"]):
        raise ValueError(f"parameters in no group (add a rest group): {unclaimed[:10]}")

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
    params = dict(named)
    torch_groups = []
    for name, group, members, scale in resolved:
        decayed = [n for n in members if n not in no_decay]
        exempt = [n for n in members if n in no_decay]
        for part_name, part, weight_decay in ((name, decayed, group["weight_decay"]), (name + ".no_decay", exempt, 0.0)):
            if not part:
                continue
            torch_group = {
                "params": [params[n] for n in part],
                "param_names": part,
                "lr": group["lr"] * scale,
                "weight_decay": weight_decay,
                "name": part_name,
                "group": group["name"],
                "frozen_until": group["freeze_epochs"],
            }
            if group["momentum"] is not None:
                torch_group["momentum"] = group["momentum"]
            if group["betas"] is not None:
                torch_group["betas"] = tuple(group["betas"])
            torch_groups.append(torch_group)
    return torch_groups


def build_optimizer(model, key=None):
    """The trial's optimizer over ``model``'s parameters, one param group per group (see ``param_groups``)."""
    spec = _optimizer_spec(key)
    groups = param_groups(model, key)
    options = dict(spec["options"])
    if spec["has_momentum"]:
        # torch checks constructor-level settings (nesterov needs momentum > 0); every group sets its own.
        options["momentum"] = max(g["momentum"] for g in groups)
    return optimizer_class(spec["optimizer"])(groups, **options)


def optimizer_class(name):
    """``torch.optim.<name>``, or the class an import path names (``lion_pytorch:Lion``)."""
    if ":" not in name:
        return getattr(torch.optim, name)
    module, _, attr = name.partition(":")
    target = importlib.import_module(module)
    for part in attr.split("."):
        target = getattr(target, part)
    return target


def schedule_values(schedule, steps_per_epoch, epochs=None):
    """``values(step) -> (lr_factor, momentum_fraction, weight_decay_factor)`` at batch ``step`` (0-based).

    Granularity ``step`` moves values every batch, ``epoch`` at epoch boundaries only. A warmup of
    ``max(1, round(warmup * total))`` units ramps linearly from ``warmup_start_factor`` to the shape's first value;
    the shape then runs over the remaining units. Past the end of the run, values hold.
    """
    epochs = EPOCHS if epochs is None else epochs
    factor, momentum_fraction = SHAPES[schedule["shape"]]
    params = schedule["params"]
    by_epoch = schedule["granularity"] == "epoch"
    per_unit = steps_per_epoch if by_epoch else 1
    total = epochs if by_epoch else steps_per_epoch * epochs
    warmup = max(1, round(schedule["warmup"] * total)) if schedule["warmup"] > 0 else 0
    warmup = min(warmup, total - 1)
    span = total - warmup
    start = schedule["warmup_start_factor"]
    target = factor(0, span, **params)
    clamp = lambda x: min(1.0, max(0.0, x))
    momentum_start = clamp(start)
    momentum_target = (momentum_fraction or (lambda s, t, **p: clamp(factor(s, t, **p))))(0, span, **params)
    wd_mode, wd_end = schedule["weight_decay"], schedule["weight_decay_end_factor"]

    def values(step):
        u = min(step // per_unit, total)
        if u < warmup:
            lr = start + (target - start) * u / warmup
            if momentum_fraction is None:
                mom = clamp(lr)
            else:
                mom = momentum_start + (momentum_target - momentum_start) * u / warmup
        else:
            lr = factor(u - warmup, span, **params)
            mom = clamp(lr) if momentum_fraction is None else momentum_fraction(u - warmup, span, **params)
        if wd_mode == "follow_lr":
            wd = lr
        elif wd_mode == "cosine":
            wd = wd_end + (1.0 - wd_end) * (1.0 + math.cos(math.pi * u / total)) / 2.0
        else:
            wd = 1.0
        return lr, mom, wd

    return values


class GroupLambdaLR(torch.optim.lr_scheduler.LambdaLR):
    """LambdaLR with one lambda per group that also moves momentum (or beta1) and weight decay where the trial
    scheduled them: momentum between the group's value and ``momentum_base`` inversely to the lr, weight decay
    following the lr or a cosine. Step it once per batch, after ``optimizer.step()``."""

    def __init__(self, optimizer, lr_lambdas, value_fns, schedules):
        self._moving = []
        for group, values, schedule in zip(optimizer.param_groups, value_fns, schedules, strict=True):
            key = "betas" if "betas" in group else "momentum" if "momentum" in group else None
            high = None if key is None else (group["betas"][0] if key == "betas" else group["momentum"])
            moves_momentum = schedule["momentum"] != "constant" and key is not None
            moves_wd = schedule["weight_decay"] != "constant" and "weight_decay" in group
            if moves_momentum or moves_wd:
                self._moving.append((group, values, key if moves_momentum else None, high,
                                     high - schedule["momentum_base"] if moves_momentum else 0.0,
                                     group["weight_decay"] if moves_wd else None))
        super().__init__(optimizer, lr_lambdas)

    def step(self, *args, **kwargs):
        super().step(*args, **kwargs)
        for group, values, key, high, span, weight_decay in getattr(self, "_moving", ()):
            _, fraction, wd_factor = values(self.last_epoch)
            if key == "momentum":
                group["momentum"] = high - span * fraction
            elif key == "betas":
                group["betas"] = (high - span * fraction, group["betas"][1])
            if weight_decay is not None:
                group["weight_decay"] = weight_decay * wd_factor


def build_scheduler(optimizer, steps_per_epoch, key=None):
    """Per-group schedules of ``optimizer`` (from ``build_optimizer``): a LambdaLR with one lambda per group."""
    spec = _optimizer_spec(key)
    schedules = {g["name"]: g["schedule"] for g in spec["groups"]}
    per_group = [schedules[group["group"]] for group in optimizer.param_groups]
    value_fns = [schedule_values(s, steps_per_epoch) for s in per_group]
    lr_lambdas = [lambda step, values=values: values(step)[0] for values in value_fns]
    if any(s["momentum"] != "constant" or s["weight_decay"] != "constant" for s in per_group):
        return GroupLambdaLR(optimizer, lr_lambdas, value_fns, per_group)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambdas)


def set_frozen(optimizer, epoch):
    """Freeze the groups frozen in ``epoch``, unfreeze the others; return the frozen groups' names.

    Epochs count from 1, as in lrsearch's curves: a group with ``frozen_until == k`` is frozen in epochs 1..k.
    Call it at the start of every epoch and use ``optimizer.zero_grad(set_to_none=True)``, so that frozen
    parameters have no gradient for momentum or weight decay to act on.
    """
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        raise ValueError(f"set_frozen(optimizer, epoch): epochs count from 1 (for epoch in range(1, EPOCHS + 1)), "
                         f"got {epoch!r}")
    frozen = []
    for group in optimizer.param_groups:
        is_frozen = epoch <= group.get("frozen_until", 0)
        for param in group["params"]:
            param.requires_grad_(not is_frozen)
            if is_frozen:
                param.grad = None
        if is_frozen:
            frozen.append(group["name"])
    return frozen


def print_schedule(steps_per_epoch=None):
    """Each group's lr, momentum and weight decay at the end of every epoch (what lrsearch recorded)."""
    steps_per_epoch = steps_per_epoch or STEPS_PER_EPOCH
    for key, spec in OPTIMIZERS.items():
        where = spec["optimizer"] if ":" in spec["optimizer"] else f"torch.optim.{spec['optimizer']}"
        print(f"optimizer {key}: {where}, {steps_per_epoch} steps an epoch")
        for group in spec["groups"]:
            values = schedule_values(group["schedule"], steps_per_epoch)
            print(f"  {group['name']} ({group['schedule']['shape']}):")
            for epoch in range(1, EPOCHS + 1):
                lr_factor, fraction, wd_factor = values(epoch * steps_per_epoch)
                line = f"    epoch {epoch}: lr {group['lr'] * lr_factor:.6g}"
                if group["schedule"]["momentum"] != "constant" and (group["momentum"] or group["betas"]):
                    high = group["momentum"] if group["momentum"] is not None else group["betas"][0]
                    line += f", momentum {high - (high - group['schedule']['momentum_base']) * fraction:.6g}"
                print(line + f", weight decay {group['weight_decay'] * wd_factor:.6g}")


if __name__ == "__main__":
    print_schedule()
