"""A trial's config as a plain-PyTorch Python file: param groups, optimizer, per-group LambdaLR, freezing.

The file holds the trial's data (``OPTIMIZERS``), the schedule shapes' own functions (copied from
:mod:`lrsearch.schedules` by :func:`~lrsearch.schedules.factor_source`) and the code of
:mod:`lrsearch.results._snippet_runtime`. It imports only ``fnmatch``, ``importlib``, ``math``, ``re`` and ``torch``,
and, for an optimizer from another package (``lion_pytorch:Lion``, ``schedulefree:AdamWScheduleFree``), that
package. A schedule-free optimizer's usage example adds its ``optimizer.train()`` / ``optimizer.eval()`` calls.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from lrsearch.errors import LrsearchError
from lrsearch.optim import get_optimizer_info, is_import_path
from lrsearch.results import _snippet_runtime
from lrsearch.schedules import factor_source, get_shape
from lrsearch.space import GroupConfig, OptimizerConfig, TrialConfig

_MARKER = "# -- code --\n"

_USAGE = '''\
Use it in your own training script:

    from {module} import EPOCHS, build_optimizer, build_scheduler, set_frozen

    model = MyModel()  # the model the study trained: the same parameter names
    optimizer = build_optimizer(model{key_arg})  # the trial's param groups and optimizer
    scheduler = build_scheduler(optimizer, steps_per_epoch=len(train_loader){key_arg2})
    for epoch in range(1, EPOCHS + 1):  # epochs count from 1, as in lrsearch's curves
        set_frozen(optimizer, epoch)  # groups frozen for their first freeze_epochs
        model.train(){train_mode}
        for x, y in train_loader:
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            optimizer.step()
            scheduler.step()  # once per batch, after optimizer.step(){eval_mode}

`python {module}.py` prints each group's lr (and scheduled momentum / weight decay) at the end of every epoch.
Not included: the training loop itself, data, batch size ({batch_size} in the study), mixed precision (lrsearch
uses bfloat16 autocast on CUDA) and seeding (lrsearch seeds random, numpy and torch with the trial's seed {seed}
before building the model).'''


def _group_data(group: GroupConfig, has_momentum: bool, has_betas: bool, info: Any) -> dict[str, Any]:
    shape = get_shape(group.schedule.shape)
    s = group.schedule
    momentum = betas = None
    if has_momentum:
        momentum = float(group.momentum if group.momentum is not None else info.class_default("momentum"))
    if has_betas:
        betas = tuple(group.betas if group.betas is not None else info.class_default("betas"))
    return {
        "name": group.name,
        "params": list(group.params),
        "rest": group.rest,
        "layerwise": group.layerwise,
        "layer_decay": group.layer_decay,
        "lr": group.lr,
        "momentum": momentum,
        "betas": betas,
        "weight_decay": group.weight_decay,
        "freeze_epochs": group.freeze_epochs,
        "schedule": {
            "shape": s.shape,
            "params": shape.resolve(s.params),
            "warmup": s.warmup,
            "warmup_start_factor": s.warmup_start_factor,
            "granularity": s.granularity,
            "momentum": s.momentum,
            "momentum_base": s.momentum_base,
            "weight_decay": s.weight_decay,
            "weight_decay_end_factor": s.weight_decay_end_factor,
        },
    }


def _import_path(cls: type) -> str | None:
    """The ``module:Class`` path by which the snippet's own loader finds ``cls``: from the top-level package when
    it exports the class (``schedulefree:AdamWScheduleFree``), else from its module; None when no import of a
    plain script can (a class of ``__main__`` or of a function)."""
    if cls.__module__ == "__main__":
        return None
    for module in dict.fromkeys((cls.__module__.split(".")[0], cls.__module__)):
        path = f"{module}:{cls.__qualname__}"
        try:
            if _snippet_runtime.optimizer_class(path) is cls:
                return path
        except (ImportError, AttributeError):
            continue
    return None


def _optimizer_data(opt: OptimizerConfig) -> dict[str, Any]:
    info = get_optimizer_info(opt.name)
    if getattr(torch.optim, info.cls.__name__, None) is info.cls:
        cls_name = info.cls.__name__
    elif is_import_path(opt.name):
        cls_name = opt.name  # the snippet imports it, as lrsearch did
    else:
        # A registered optimizer from another package (schedule-free AdamW, a plugin's): imported by its path.
        found = _import_path(info.cls)
        if found is None:
            raise LrsearchError(f"optimizer {opt.name!r} ({info.cls.__module__}.{info.cls.__qualname__}) cannot be "
                                "imported by a plain script; name it 'package.module:Class' in the study for the "
                                "plain-PyTorch snippet to import it")
        cls_name = found
    return {
        "optimizer": cls_name,
        "has_momentum": info.has_momentum,
        "switches_modes": info.switches_modes,
        "options": {**info.default_options, **opt.options},
        "weight_decay_exclude": list(opt.weight_decay_exclude),
        "groups": [_group_data(g, info.has_momentum, info.has_betas, info) for g in opt.groups],
    }


def _literal(value: Any, indent: int = 0) -> str:
    """``value`` as a Python literal: a mapping or a list of mappings one item per line, scalars inline."""
    pad, inner = " " * indent, " " * (indent + 4)
    if isinstance(value, dict) and value and any(isinstance(v, (dict, list)) for v in value.values()):
        items = "".join(f"{inner}{k!r}: {_literal(v, indent + 4)},\n" for k, v in value.items())
        return "{\n" + items + pad + "}"
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        return "[\n" + "".join(f"{inner}{_literal(v, indent + 4)},\n" for v in value) + pad + "]"
    return repr(value)


def _runtime_code() -> str:
    source = inspect.getsource(_snippet_runtime)
    return source[source.index(_MARKER) + len(_MARKER):].lstrip("\n")


def pytorch_snippet(config: TrialConfig, *, title: str, steps_per_epoch: int | None = None,
                    batch_size: int | None = None, module: str = "best_trial") -> str:
    """The Python source of a plain-PyTorch file that rebuilds ``config``'s optimizers and schedules.

    ``title`` opens its docstring (which study and trial, and its score); ``steps_per_epoch`` is the study's (for
    ``python snippet.py``'s table); ``module`` is the import name shown in the usage example.
    """
    optimizers = {opt.key: _optimizer_data(opt) for opt in config.optimizers}
    shapes: dict[str, tuple[str, str | None]] = {}
    sources = []
    for opt in config.optimizers:
        for group in opt.groups:
            name = group.schedule.shape
            if name in shapes:
                continue
            shape = get_shape(name)
            fraction = shape.momentum_fraction.__name__ if shape.momentum_fraction is not None else None
            shapes[name] = (shape.factor.__name__, fraction)
            sources.append(factor_source(name).rstrip())
    many = len(optimizers) > 1
    first = next(iter(optimizers))
    modes = optimizers[first]["switches_modes"]
    usage = _USAGE.format(module=module, key_arg=f", {first!r}" if many else "",
                          key_arg2=f", key={first!r}" if many else "", batch_size=batch_size or "?",
                          seed=config.seed,
                          train_mode="\n        optimizer.train()  # schedule-free: train mode to step" if modes else "",
                          eval_mode="\n        optimizer.eval()  # schedule-free: before evaluating or saving the "
                                    "model" if modes else "")
    shape_table = "{\n" + "".join(f"    {name!r}: ({f}, {m}),\n" for name, (f, m) in shapes.items()) + "}"
    parts = [
        f'"""{title}\n\nIn plain PyTorch: no lrsearch import. {usage}\n"""',
        "from __future__ import annotations\n\nimport fnmatch\nimport importlib\nimport math\nimport re\n\nimport torch",
        f"EPOCHS = {config.epochs}\nSTEPS_PER_EPOCH = {steps_per_epoch or 1}  # in the study; yours follows "
        "from your data and batch size\nSEED = " + str(config.seed),
        "# The trial's optimizers and groups: patterns are globs (* crosses dots) or 're:' regexes on parameter\n"
        "# names; lr is the schedule's peak; momentum is beta1 for Adam-type optimizers.\n"
        "OPTIMIZERS = " + _literal(optimizers),
        "# Schedule shapes, copied from lrsearch.schedules: pure multipliers of (step, total, **params).",
        *sources,
        "SHAPES = " + shape_table,
        _runtime_code().rstrip(),
    ]
    return "\n\n\n".join(parts) + "\n"
