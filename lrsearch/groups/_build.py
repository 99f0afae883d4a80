"""(model, OptimizerConfig) -> the list of torch param-group dicts, and a table of them for ``lrsearch validate``."""

from __future__ import annotations

from typing import Any

from torch import nn

from lrsearch.groups._assign import ResolvedGroup, check_unique_names, group_error, resolve_groups
from lrsearch.groups._no_decay import no_decay_parameter_names, split_no_decay
from lrsearch.keras import named_parameters  # Keras models: their parameters under Keras's names
from lrsearch.text import table_lines
from lrsearch.trial_config import OptimizerConfig


def resolve_param_groups(model: nn.Module, opt_config: OptimizerConfig) -> list[ResolvedGroup]:
    """The final groups (layerwise expanded, no-decay split) of one optimizer over ``model``.

    Raises:
        GroupError: With every membership and ``weight_decay_exclude`` problem at once.
    """
    named = named_parameters(model)
    trainable = [n for n, p in named if p.requires_grad]
    frozen = [n for n, p in named if not p.requires_grad]
    groups, problems = resolve_groups(trainable, frozen, opt_config.groups)
    no_decay, exclude_problems = no_decay_parameter_names(model, opt_config.weight_decay_exclude)
    problems += exclude_problems
    if not problems:
        groups = split_no_decay(groups, no_decay)
        problems = check_unique_names(groups)
    if problems:
        raise group_error(problems, opt_config.key)
    return groups


def build_param_groups(model: nn.Module, opt_config: OptimizerConfig) -> list[dict[str, Any]]:
    """The param-group dicts to hand to :func:`lrsearch.optim.build_optimizer`; a pure function of its inputs.

    Only parameters with ``requires_grad=True`` now are placed, so call this before :func:`set_frozen` freezes
    anything. Each dict holds the torch keys ``params``, ``param_names``, ``lr``, ``weight_decay``,
    ``momentum`` and ``betas`` (as the GroupConfig has them, ``None`` included; the optimizer builder keeps what
    the optimizer understands), and lrsearch's tags: ``name`` (``head``, ``layers.3``, ``backbone.no_decay``),
    ``group`` (the spec group it came from, which owns the schedule), ``layer_scale`` (the layer-decay factor
    already applied to ``lr``; not timm's ``lr_scale``, which timm schedulers would apply a second time),
    ``no_decay`` and ``frozen_until`` (the last epoch, from 1, it is frozen in; 0: never frozen). Torch keeps unknown keys in
    ``optimizer.param_groups`` and in its state dict.

    Order: the spec's groups in order, a layerwise group's layers by index, each ``.no_decay`` companion right
    after its group.
    """
    params = dict(named_parameters(model))
    return [
        {
            "params": [params[n] for n in g.param_names],
            "param_names": list(g.param_names),
            "lr": g.lr,
            "weight_decay": g.weight_decay,
            "momentum": g.config.momentum,
            "betas": tuple(g.config.betas) if g.config.betas is not None else None,
            "name": g.name,
            "group": g.config.name,
            "layer_scale": g.lr_scale,
            "no_decay": g.no_decay,
            "frozen_until": g.config.freeze_epochs,
        }
        for g in resolve_param_groups(model, opt_config)
    ]


def describe_groups(model: nn.Module, opt_config: OptimizerConfig, examples: int = 2) -> str:
    """A plain-text table of the groups: tensors, elements, lr and its layer-decay factor, weight decay, freezing.

    Raises:
        GroupError: As :func:`build_param_groups` does, so ``lrsearch validate --model`` shows the problems.
    """
    params = dict(named_parameters(model))
    header = ("group", "tensors", "params", "lr", "lr scale", "wd", "frozen", "examples")
    rows: list[tuple[str, ...]] = []
    total_tensors = total_elements = 0
    for g in resolve_param_groups(model, opt_config):
        elements = sum(params[n].numel() for n in g.param_names)
        total_tensors += len(g.param_names)
        total_elements += elements
        scale = "1" if g.decay_power == 0 else f"{g.config.layer_decay:g}^{g.decay_power} = {g.lr_scale:.4g}"
        shown = ", ".join(g.param_names[:examples]) + (", ..." if len(g.param_names) > examples else "")
        frozen = f"until epoch {g.config.freeze_epochs}" if g.config.freeze_epochs > 0 else "-"
        rows.append(
            (
                g.name,
                str(len(g.param_names)),
                f"{elements:,}",
                f"{g.lr:.4g}",
                scale,
                f"{g.weight_decay:g}",
                frozen,
                shown,
            )
        )
    lines = table_lines(rows, header=header, rule=True)
    lines.append(
        f"optimizer {opt_config.key!r} ({opt_config.name}): {len(rows)} group(s), "
        f"{total_tensors} tensor(s), {total_elements:,} trainable parameter(s)"
    )
    return "\n".join(lines)
