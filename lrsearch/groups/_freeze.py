"""Freezing groups for their first epochs (fastai's ``freeze_epochs``; gradual unfreezing when groups differ).

Frozen groups stay in the optimizer: adding groups later would desynchronise every scheduler's per-group lists.
A frozen parameter has ``requires_grad=False``, so backward leaves its ``grad`` at ``None`` and torch optimizers
skip it entirely (no step, no weight decay, no momentum update). That holds only while its ``grad`` stays
``None``: call ``optimizer.zero_grad(set_to_none=True)`` (the default), since a zero tensor is still a gradient
that momentum and weight decay would act on. :func:`set_frozen` clears the grads it freezes for the same reason.
"""

from __future__ import annotations

from torch import nn
from torch.optim import Optimizer

from lrsearch.groups._no_decay import is_norm_module


def set_frozen(
    optimizer: Optimizer, epoch: int, model: nn.Module | None = None, freeze_bn_stats: bool = False
) -> list[str]:
    """Freeze the groups frozen in ``epoch``, unfreeze the others; return the frozen names.

    Call it at the start of every epoch, after ``model.train()``. Epochs count from 1, as everywhere in lrsearch
    (``ctx.report``, ``ctx.freeze``, the stored curves, the ``best --python`` snippet): a group with
    ``freeze_epochs: k`` (``frozen_until == k``) is frozen in epochs 1..k and trains from epoch k + 1.

    Args:
        optimizer: Built from :func:`build_param_groups` groups (groups without ``frozen_until`` always train).
        epoch: The epoch about to run, from 1.
        model: Needed only with ``freeze_bn_stats``.
        freeze_bn_stats: Also put the normalization modules whose parameters are all frozen in eval mode, so
            their running statistics stop moving too (a frozen BatchNorm still updates them in train mode).
            The other norm modules follow ``model.training``. Norm modules without parameters
            (``affine=False``) belong to no group and are left alone.
    """
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        raise ValueError(f"set_frozen(optimizer, epoch): epochs count from 1 (the first epoch is 1, as in "
                         f"ctx.report), got {epoch!r}")
    if freeze_bn_stats and model is None:
        raise ValueError(
            "set_frozen(freeze_bn_stats=True) needs the model, to find its normalization modules"
        )
    frozen_names: list[str] = []
    frozen_params: set[int] = set()
    for index, group in enumerate(optimizer.param_groups):
        frozen = epoch <= group.get("frozen_until", 0)
        for param in group["params"]:
            param.requires_grad_(not frozen)
            if frozen:
                param.grad = None
                frozen_params.add(id(param))
        if frozen:
            frozen_names.append(group.get("name", f"#{index}"))
    if freeze_bn_stats:
        assert model is not None
        for module in model.modules():
            own = [id(p) for p in module.parameters(recurse=False)]
            if own and is_norm_module(module):
                module.train(model.training and not all(p in frozen_params for p in own))
    return frozen_names
