"""build_optimizer over real param groups, for every registered optimizer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lrsearch.errors import LrsearchError
from lrsearch.groups import build_param_groups
from lrsearch.optim import build_optimizer, get_optimizer_info, optimizer_names
from lrsearch.trial_config import GroupConfig, OptimizerConfig


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def config(
    name: str, momentum: float | None = None, betas: tuple[float, float] | None = None, **options: object
) -> OptimizerConfig:
    return OptimizerConfig(
        "main",
        name,
        options=dict(options),
        groups=[
            GroupConfig("body", 1e-3, params=["0.*"], momentum=momentum, betas=betas, weight_decay=0.01),
            GroupConfig("head", 3e-2, params=["2.*"], momentum=momentum, betas=betas, freeze_epochs=1),
        ],
    )


def build(cfg: OptimizerConfig, net: nn.Module | None = None) -> torch.optim.Optimizer:
    return build_optimizer(cfg, build_param_groups(net if net is not None else model(), cfg))


@pytest.mark.parametrize("name", optimizer_names())
def test_builds_two_groups_with_their_own_lrs_and_steps(name: str) -> None:
    info = get_optimizer_info(name)
    net = model()
    optimizer = build(config(name), net)
    assert isinstance(optimizer, info.cls)
    body, head = optimizer.param_groups
    assert (body["lr"], head["lr"]) == (1e-3, 3e-2)
    assert (body["weight_decay"], head["weight_decay"]) == (0.01, 0.0)
    assert all(("momentum" in g) == info.has_momentum for g in optimizer.param_groups)
    assert all(("betas" in g) == info.has_betas for g in optimizer.param_groups)
    assert (body["name"], head["name"], head["frozen_until"]) == ("body", "head", 1)
    before = [p.detach().clone() for p in net.parameters()]
    net(torch.randn(5, 4)).square().mean().backward()
    if info.switches_modes:
        optimizer.train()  # schedule-free: steps only in train mode (the managed loop and TrialContext do this)
    optimizer.step()
    assert all(not torch.equal(b, p) for b, p in zip(before, net.parameters(), strict=True))


@pytest.mark.parametrize("name", [n for n in optimizer_names() if get_optimizer_info(n).has_momentum])
def test_momentum_none_is_the_class_default_and_a_set_momentum_is_kept(name: str) -> None:
    default = get_optimizer_info(name).class_default("momentum")  # 0.0 for torch's SGD and RMSprop
    assert [g["momentum"] for g in build(config(name)).param_groups] == [default, default]
    assert [g["momentum"] for g in build(config(name, momentum=0.85)).param_groups] == [0.85, 0.85]


@pytest.mark.parametrize("name", [n for n in optimizer_names() if get_optimizer_info(n).has_betas])
def test_betas_none_is_the_class_default_and_set_betas_are_kept(name: str) -> None:
    default = get_optimizer_info(name).class_default("betas")
    assert [g["betas"] for g in build(config(name)).param_groups] == [default, default]
    assert [g["betas"] for g in build(config(name, betas=(0.5, 0.9))).param_groups] == [(0.5, 0.9)] * 2


def test_options_reach_the_optimizer() -> None:
    optimizer = build(config("sgd", momentum=0.9, nesterov=True))
    assert all(g["nesterov"] and g["momentum"] == 0.9 for g in optimizer.param_groups)
    assert build(config("adam", eps=1e-6)).param_groups[0]["eps"] == 1e-6


def test_callers_group_dicts_are_not_modified() -> None:
    cfg = config("adam", momentum=None)
    groups = build_param_groups(model(), cfg)
    build_optimizer(cfg, groups)
    assert groups[0]["momentum"] is None and groups[0]["betas"] is None


def test_tags_survive_a_state_dict_round_trip() -> None:
    net = model()
    optimizer = build(config("adamw"), net)
    net(torch.randn(5, 4)).sum().backward()
    optimizer.step()
    restored = build(config("adamw"), net)
    restored.load_state_dict(optimizer.state_dict())
    assert [(g["name"], g["frozen_until"], g["param_names"]) for g in restored.param_groups] == [
        ("body", 0, ["0.weight", "0.bias"]),
        ("head", 1, ["2.weight", "2.bias"]),
    ]


def test_bad_options_unknown_names_and_torch_rejections_are_user_errors() -> None:
    with pytest.raises(
        LrsearchError, match="optimizer 'main' \\(sgd\\): optimizer 'sgd' has no option 'betas2'"
    ):
        build(config("sgd", betas2=0.9))
    with pytest.raises(LrsearchError, match="unknown optimizer 'lion'"):
        build(config("lion"))
    with pytest.raises(
        LrsearchError, match="SGD rejected its settings: Nesterov momentum requires a momentum"
    ):
        build(config("sgd", nesterov=True))
    with pytest.raises(LrsearchError, match="has no parameter group"):
        build_optimizer(config("sgd"), [])
