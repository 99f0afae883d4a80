"""OptimizerConfig + param-group dicts -> a torch optimizer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch.optim import Optimizer

from lrsearch.errors import LrsearchError
from lrsearch.optim._registry import OptimizerInfo, get_optimizer_info, validate_options
from lrsearch.trial_config import OptimizerConfig


def build_optimizer(opt_config: OptimizerConfig, torch_groups: Sequence[Mapping[str, Any]]) -> Optimizer:
    """Build ``opt_config``'s optimizer over groups from :func:`lrsearch.groups.build_param_groups`.

    Each group keeps ``momentum`` only if the optimizer has momentum (``None`` becomes the class default, 0.0
    for SGD) and ``betas`` only if it has betas (``None`` becomes the class default); the other of the two is
    dropped. Every other key (``name``, ``frozen_until``, ...) stays in ``optimizer.param_groups`` as a tag.
    The caller's dicts are not modified.

    Raises:
        LrsearchError: Unknown optimizer, bad options, no groups, or settings the torch class rejects.
    """
    info = get_optimizer_info(opt_config.name)
    problems = validate_options(opt_config.name, opt_config.options)
    if problems:
        raise LrsearchError(f"optimizer {opt_config.key!r} ({opt_config.name}): " + "; ".join(problems))
    if not torch_groups:
        raise LrsearchError(f"optimizer {opt_config.key!r} ({opt_config.name}) has no parameter group")
    groups = [_fit_group(info, group) for group in torch_groups]
    options = {**info.default_options, **opt_config.options}
    if info.has_momentum:
        # Torch checks constructor-level settings (SGD: nesterov needs momentum > 0) before looking at groups;
        # every group sets its own momentum, so the constructor's value is only ever used by that check.
        options["momentum"] = max(g["momentum"] for g in groups)
    try:
        return info.cls(groups, **options)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise LrsearchError(
            f"optimizer {opt_config.key!r}: {info.cls.__module__}.{info.cls.__qualname__} rejected its settings: {exc}"
        ) from exc


def _fit_group(info: OptimizerInfo, group: Mapping[str, Any]) -> dict[str, Any]:
    fitted = dict(group)
    momentum = fitted.pop("momentum", None)
    betas = fitted.pop("betas", None)
    if info.has_momentum:
        fitted["momentum"] = float(momentum if momentum is not None else info.class_default("momentum"))
    if info.has_betas:
        fitted["betas"] = tuple(betas if betas is not None else info.class_default("betas"))
    return fitted
