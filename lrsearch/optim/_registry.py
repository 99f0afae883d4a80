"""The optimizer registry: each torch optimizer lrsearch can build, with the capability flags that decide which
per-group settings apply (timm's ``has_momentum``/``has_betas``), and the constructor options it accepts.

Besides the registered names, a spec may name any optimizer class by import path (``lion_pytorch:Lion``,
``timm.optim:Lion``): it is imported on first use and registered under that path, with its capabilities read
from its constructor's signature (a ``momentum`` keyword: momentum; a ``betas`` keyword: betas).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.optim import Optimizer

from lrsearch.errors import LrsearchError

# Set on each group by lrsearch, never as an optimizer-wide option.
GROUP_KEYS = ("lr", "weight_decay", "momentum", "betas")


@functools.cache
def constructor_defaults(cls: type[Optimizer]) -> dict[str, Any]:
    """The keyword arguments of ``cls.__init__`` with their defaults (``inspect.Parameter.empty`` if none)."""
    skip = {"self", "params"}
    return {
        p.name: p.default
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name not in skip and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


@dataclass(frozen=True)
class OptimizerInfo:
    """One registered optimizer.

    Attributes:
        has_momentum: Groups carry ``momentum`` (SGD, RMSprop); a group's ``None`` means the class default, 0.0.
        has_betas: Groups carry ``betas`` (Adam family); a group's ``None`` means the class default.
        decoupled_weight_decay: Weight decay is decoupled from the gradient (AdamW) without any option; see
            :meth:`uses_decoupled_weight_decay` for optimizers where an option turns it on.
        default_options: lrsearch's own defaults for constructor options, which the spec's options override.
        default_momentum: The momentum a group gets when the optimizer has momentum and the group does not say
            (torch's SGD default of 0 is plain SGD, rarely what a search over SGD means).
        switches_modes: The optimizer has ``train()``/``eval()`` modes (schedule-free): the managed loop and
            :class:`~lrsearch.training.TrialContext` put it in train mode to step and in eval mode to evaluate.
        horizon_free: The optimizer needs no decaying schedule (schedule-free); a constant shape is its design.
    """

    name: str
    cls: type[Optimizer]
    description: str
    has_momentum: bool = False
    has_betas: bool = False
    decoupled_weight_decay: bool = False
    default_options: Mapping[str, Any] = field(default_factory=dict)
    default_momentum: float = 0.0
    switches_modes: bool = False
    horizon_free: bool = False

    @property
    def options(self) -> frozenset[str]:
        """The option names a spec may set: the constructor's keywords, less the per-group settings."""
        return frozenset(constructor_defaults(self.cls)) - set(GROUP_KEYS)

    def option_defaults(self) -> dict[str, Any]:
        """Every option with the value it gets when the spec does not set it."""
        defaults = constructor_defaults(self.cls)
        return {**{k: defaults[k] for k in sorted(self.options)}, **self.default_options}

    def class_default(self, key: str) -> Any:
        """The constructor's default for ``key`` (``betas`` -> ``(0.9, 0.999)`` for Adam)."""
        return constructor_defaults(self.cls)[key]

    def uses_decoupled_weight_decay(self, options: Mapping[str, Any]) -> bool:
        return bool(options.get("decoupled_weight_decay", self.decoupled_weight_decay))


_REGISTRY: dict[str, OptimizerInfo] = {}


def register_optimizer(info: OptimizerInfo, *, replace: bool = False) -> OptimizerInfo:
    """Add ``info`` to the registry, after checking its flags against the class's constructor.

    Raises:
        ValueError: The name is taken (and not ``replace``), or a flag or default option disagrees with the class.
    """
    if info.name in _REGISTRY and not replace:
        raise ValueError(f"optimizer {info.name!r} is already registered")
    keywords = constructor_defaults(info.cls)
    for flag, key in (("has_momentum", "momentum"), ("has_betas", "betas")):
        if getattr(info, flag) != (key in keywords):
            raise ValueError(
                f"optimizer {info.name!r}: {flag}={getattr(info, flag)}, but {info.cls.__name__}.__init__ "
                f"{'takes' if key in keywords else 'has no'} {key!r}"
            )
    unknown = set(info.default_options) - info.options
    if unknown:
        raise ValueError(f"optimizer {info.name!r}: default_options {sorted(unknown)} are not options")
    _REGISTRY[info.name] = info
    return info


def optimizer_names() -> list[str]:
    """The registered names (optimizers named by import path are not listed)."""
    return sorted(n for n in _REGISTRY if not is_import_path(n))


def get_optimizer_info(name: str) -> OptimizerInfo:
    """The registered optimizer ``name``, or the class an import path (``package.module:Class``) names.

    Raises:
        LrsearchError: No such optimizer (the message lists the known names), or an import path that does not
            import or does not name a ``torch.optim.Optimizer`` subclass.
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    if is_import_path(name):
        return _register_import_path(name)
    raise LrsearchError(f"unknown optimizer {name!r}; known: {', '.join(optimizer_names())}, or an import path "
                        "such as 'lion_pytorch:Lion' (package.module:Class)")


def is_import_path(name: str) -> bool:
    return _IMPORT_PATH.match(name) is not None


_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def _register_import_path(path: str) -> OptimizerInfo:
    module_name, _, attr = path.partition(":")
    # Like task entrypoints: a user's own module imports from where lrsearch runs (appended: never shadows).
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise LrsearchError(f"optimizer {path!r}: cannot import {module_name!r}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(target, part):
            raise LrsearchError(f"optimizer {path!r}: {target.__name__!r} has no attribute {part!r}")
        target = getattr(target, part)
    if not (isinstance(target, type) and issubclass(target, Optimizer)):
        what = target.__name__ if isinstance(target, type) else type(target).__name__
        raise LrsearchError(f"optimizer {path!r} is {what}, not a torch.optim.Optimizer subclass")
    keywords = constructor_defaults(target)
    missing = [k for k in ("lr",) if k not in keywords]
    if missing:
        raise LrsearchError(f"optimizer {path!r}: {target.__name__}.__init__ takes no 'lr'; lrsearch sets lr "
                            "per parameter group, so the optimizer must accept it")
    doc = (inspect.getdoc(target) or "").strip().splitlines()
    momentum = keywords.get("momentum")
    info = OptimizerInfo(
        path, target, doc[0] if doc else f"{target.__module__}.{target.__qualname__}",
        has_momentum="momentum" in keywords, has_betas="betas" in keywords,
        # a group that does not search momentum gets the class's own default
        default_momentum=float(momentum) if isinstance(momentum, (int, float)) and not isinstance(momentum, bool) else 0.0,
    )
    return register_optimizer(info)


def capabilities(info: OptimizerInfo) -> str:
    """``info``'s capabilities in words, as ``lrsearch validate`` states them."""
    cls = f"{info.cls.__module__}.{info.cls.__qualname__}"
    caps = [f"momentum {'yes' if info.has_momentum else 'no'}", f"betas {'yes' if info.has_betas else 'no'}"]
    options = ", ".join(f"{k}={v!r}" for k, v in info.option_defaults().items()
                        if v is not inspect.Parameter.empty) or "none"
    return f"{info.name} ({cls}): {', '.join(caps)}; options {options}"


def validate_options(name: str, options: Mapping[str, Any]) -> list[str]:
    """Every problem with an optimizer's ``options``, one message each; empty when they are fine."""
    try:
        info = get_optimizer_info(name)
    except LrsearchError as exc:
        return [str(exc)]
    valid = ", ".join(sorted(info.options))
    problems = []
    for key, value in options.items():
        if key in GROUP_KEYS:
            problems.append(f"{key!r} is set per group (optimizer.groups[].{key}), not in options")
        elif key not in info.options:
            problems.append(f"optimizer {name!r} has no option {key!r}; valid options: {valid}")
        else:
            problem = _check_type(info.class_default(key), value)
            if problem:
                problems.append(f"option {key!r} of optimizer {name!r} {problem}, got {value!r}")
    return problems


def _check_type(default: Any, value: Any) -> str | None:
    """Compare with the constructor default's type; a ``None`` or missing default accepts anything."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "must be true or false"
    if isinstance(default, (int, float)):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else "must be a number"
    if isinstance(default, tuple):
        ok = isinstance(value, (list, tuple)) and len(value) == len(default)
        return None if ok else f"must be a list of {len(default)} values"
    return None


for _info in (
    OptimizerInfo(
        "sgd",
        torch.optim.SGD,
        "Stochastic gradient descent, with optional (Nesterov) momentum.",
        has_momentum=True,
        default_momentum=0.9,
    ),
    OptimizerInfo(
        "adam",
        torch.optim.Adam,
        "Adam; L2 weight decay unless decoupled_weight_decay is true.",
        has_betas=True,
    ),
    OptimizerInfo(
        "adamw",
        torch.optim.AdamW,
        "Adam with decoupled weight decay (Loshchilov & Hutter).",
        has_betas=True,
        decoupled_weight_decay=True,
    ),
    OptimizerInfo(
        "rmsprop", torch.optim.RMSprop, "RMSprop, with optional momentum and centering.", has_momentum=True
    ),
    OptimizerInfo(
        "nadam",
        torch.optim.NAdam,
        "Adam with Nesterov momentum; NAdamW with decoupled_weight_decay.",
        has_betas=True,
    ),
    OptimizerInfo("radam", torch.optim.RAdam, "Rectified Adam (variance warmup built in).", has_betas=True),
    OptimizerInfo("adamax", torch.optim.Adamax, "Adam with the infinity norm.", has_betas=True),
    OptimizerInfo(
        "adagrad", torch.optim.Adagrad, "Adagrad: per-coordinate lr from the sum of squared grads."
    ),
):
    register_optimizer(_info)


def _register_schedulefree() -> None:
    """Schedule-free AdamW and SGD (Defazio et al. 2024, PyPI ``schedulefree``), when that package is installed.

    They keep two sequences of weights and evaluate at their average: ``optimizer.train()`` before stepping,
    ``optimizer.eval()`` before evaluating or saving. lrsearch's managed loop and ``TrialContext`` make those
    calls (``ctx.train_mode()``, ``ctx.eval_mode()`` in an own loop).
    """
    try:
        import schedulefree
    except ImportError:
        return
    register_optimizer(OptimizerInfo(
        "adamw_schedulefree", schedulefree.AdamWScheduleFree,
        "Schedule-free AdamW: no decaying schedule needed; the managed loop's default.",
        has_betas=True, decoupled_weight_decay=True, switches_modes=True, horizon_free=True,
    ))
    register_optimizer(OptimizerInfo(
        "sgd_schedulefree", schedulefree.SGDScheduleFree,
        "Schedule-free SGD with momentum: no decaying schedule needed.",
        # Its own default: the class refuses momentum 0 (the averaging needs 0 < momentum < 1).
        has_momentum=True, default_momentum=0.9, switches_modes=True, horizon_free=True,
    ))


_register_schedulefree()
