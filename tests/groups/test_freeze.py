"""Freezing groups for their first epochs, with real SGD steps on a real CNN."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lrsearch.groups import build_param_groups, set_frozen
from lrsearch.optim import build_optimizer
from lrsearch.trial_config import GroupConfig, OptimizerConfig
from tests.groups.models import SmallCNN


def setup(weight_decay: float = 0.01) -> tuple[SmallCNN, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = SmallCNN()
    config = OptimizerConfig(
        "main",
        "sgd",
        weight_decay_exclude=["norm"],
        groups=[
            GroupConfig(
                "backbone",
                0.05,
                params=["backbone.*"],
                momentum=0.9,
                weight_decay=weight_decay,
                freeze_epochs=1,
            ),
            GroupConfig("head", 0.05, params=["head.*"], momentum=0.9, weight_decay=weight_decay),
        ],
    )
    return model, build_optimizer(config, build_param_groups(model, config))


def train_steps(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int = 3) -> None:
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.randn(8, 3, 8, 8, generator=generator)
        y = torch.randint(0, 4, (8,), generator=generator)
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before: dict[str, torch.Tensor], module: nn.Module) -> set[str]:
    return {k for k, v in module.state_dict().items() if not torch.equal(before[k], v)}


def test_frozen_group_does_not_move_until_it_unfreezes() -> None:
    model, optimizer = setup()
    assert [g["name"] for g in optimizer.param_groups] == ["backbone", "backbone.no_decay", "head"]

    model.train()
    assert set_frozen(optimizer, 1) == ["backbone", "backbone.no_decay"]
    assert not any(p.requires_grad for p in model.backbone.parameters())
    weights = {n: p.detach().clone() for n, p in model.backbone.named_parameters()}
    head = model.head.weight.detach().clone()
    train_steps(model, optimizer)
    assert all(torch.equal(weights[n], p) for n, p in model.backbone.named_parameters())
    assert all(p.grad is None for p in model.backbone.parameters())
    assert not torch.equal(head, model.head.weight)
    assert len(optimizer.param_groups) == 3

    model.train()
    assert set_frozen(optimizer, 2) == []
    train_steps(model, optimizer)
    assert all(not torch.equal(weights[n], p) for n, p in model.backbone.named_parameters())
    assert len(optimizer.param_groups) == 3


def test_freezing_clears_gradients_left_from_an_earlier_step() -> None:
    model, optimizer = setup()
    nn.functional.cross_entropy(model(torch.randn(4, 3, 8, 8)), torch.tensor([0, 1, 2, 3])).backward()
    assert model.backbone[0].weight.grad is not None
    set_frozen(optimizer, 1)
    before = model.backbone[0].weight.detach().clone()
    optimizer.step()  # no zero_grad in between: the stale gradient must not be applied
    assert model.backbone[0].weight.grad is None
    assert torch.equal(before, model.backbone[0].weight)


@pytest.mark.parametrize("freeze_bn_stats", [False, True])
def test_batchnorm_running_stats_of_frozen_groups(freeze_bn_stats: bool) -> None:
    model, optimizer = setup()
    model.train()
    set_frozen(optimizer, 1, model=model, freeze_bn_stats=freeze_bn_stats)
    before = snapshot(model.backbone)
    train_steps(model, optimizer)
    running = {k for k in changed(before, model.backbone) if "running" in k}
    assert running == (
        set() if freeze_bn_stats else {"1.running_mean", "1.running_var", "4.running_mean", "4.running_var"}
    )
    assert model.backbone[1].training is not freeze_bn_stats

    model.train()
    set_frozen(optimizer, 2, model=model, freeze_bn_stats=freeze_bn_stats)
    assert model.backbone[1].training and model.backbone[4].training
    before = snapshot(model.backbone)
    train_steps(model, optimizer)
    assert {"1.running_mean", "4.running_var"} <= changed(before, model.backbone)


def test_freeze_bn_stats_needs_the_model() -> None:
    _, optimizer = setup()
    with pytest.raises(ValueError, match="needs the model"):
        set_frozen(optimizer, 1, freeze_bn_stats=True)


@pytest.mark.parametrize("epoch", [0, -1, 1.0, True])
def test_epochs_count_from_1(epoch: object) -> None:
    """The same convention as ctx.report, ctx.freeze and the snippet's set_frozen: epoch 0 is a mistake."""
    _, optimizer = setup()
    with pytest.raises(ValueError, match=r"epochs count from 1 \(the first epoch is 1, as in ctx.report\)"):
        set_frozen(optimizer, epoch)  # type: ignore[arg-type]
