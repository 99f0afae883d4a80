"""The optimizer registry: flags agree with the torch classes, options are checked by name and type."""

from __future__ import annotations

import inspect

import pytest
import torch

from lrsearch.errors import LrsearchError
from lrsearch.optim import (
    OptimizerInfo,
    get_optimizer_info,
    optimizer_names,
    register_optimizer,
    validate_options,
)


def test_the_registry_has_the_usual_optimizers() -> None:
    assert {"sgd", "adam", "adamw", "rmsprop", "nadam", "radam", "adagrad"} <= set(optimizer_names())


@pytest.mark.parametrize("name", optimizer_names())
def test_flags_agree_with_the_constructor(name: str) -> None:
    info = get_optimizer_info(name)
    keywords = inspect.signature(info.cls.__init__).parameters
    assert info.has_momentum == ("momentum" in keywords)
    assert info.has_betas == ("betas" in keywords)
    assert info.options == set(keywords) - {"self", "params", "lr", "weight_decay", "momentum", "betas"}
    assert set(info.option_defaults()) == info.options
    assert info.description


@pytest.mark.parametrize(
    ("name", "momentum", "betas", "decoupled"),
    [
        ("sgd", True, False, False),
        ("rmsprop", True, False, False),
        ("adam", False, True, False),
        ("adamw", False, True, True),
        ("nadam", False, True, False),
        ("radam", False, True, False),
        ("adagrad", False, False, False),
    ],
)
def test_capability_flags(name: str, momentum: bool, betas: bool, decoupled: bool) -> None:
    info = get_optimizer_info(name)
    assert (info.has_momentum, info.has_betas, info.decoupled_weight_decay) == (momentum, betas, decoupled)


def test_decoupled_weight_decay_can_be_an_option() -> None:
    assert get_optimizer_info("adam").uses_decoupled_weight_decay({"decoupled_weight_decay": True})
    assert not get_optimizer_info("adam").uses_decoupled_weight_decay({})
    assert get_optimizer_info("adamw").uses_decoupled_weight_decay({})


def test_unknown_optimizer_lists_the_known_ones() -> None:
    with pytest.raises(LrsearchError, match="unknown optimizer 'adamx'; known: adagrad, adam, adamax, adamw"):
        get_optimizer_info("adamx")
    assert validate_options("adamx", {}) == [
        f"unknown optimizer 'adamx'; known: {', '.join(optimizer_names())}, or an import path such as "
        "'lion_pytorch:Lion' (package.module:Class)"
    ]


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("sgd", {"nesterov": True, "dampening": 0.0}),
        ("adam", {"eps": 1e-6, "amsgrad": True}),
        ("adamw", {"eps": 1, "fused": None}),
        ("rmsprop", {"alpha": 0.9, "centered": True}),
        ("nadam", {"decoupled_weight_decay": True, "momentum_decay": 4e-3}),
    ],
)
def test_valid_options(name: str, options: dict) -> None:
    assert validate_options(name, options) == []


def test_unknown_option_lists_the_valid_ones() -> None:
    assert validate_options("sgd", {"nestrov": True}) == [
        "optimizer 'sgd' has no option 'nestrov'; valid options: dampening, differentiable, foreach, fused, "
        "maximize, nesterov"
    ]


def test_per_group_settings_and_wrong_types_are_rejected_together() -> None:
    problems = validate_options("adam", {"lr": 0.1, "betas": [0.9, 0.99], "amsgrad": "yes", "eps": "1e-8"})
    assert problems == [
        "'lr' is set per group (optimizer.groups[].lr), not in options",
        "'betas' is set per group (optimizer.groups[].betas), not in options",
        "option 'amsgrad' of optimizer 'adam' must be true or false, got 'yes'",
        "option 'eps' of optimizer 'adam' must be a number, got '1e-8'",
    ]


def test_registration_checks_flags_against_the_class() -> None:
    with pytest.raises(
        ValueError, match="'adagrad2': has_momentum=True, but Adagrad.__init__ has no 'momentum'"
    ):
        register_optimizer(OptimizerInfo("adagrad2", torch.optim.Adagrad, "x", has_momentum=True))
    with pytest.raises(ValueError, match="'sgd2': has_momentum=False, but SGD.__init__ takes 'momentum'"):
        register_optimizer(OptimizerInfo("sgd2", torch.optim.SGD, "x"))
    with pytest.raises(ValueError, match=r"default_options \['lr'\] are not options"):
        register_optimizer(
            OptimizerInfo("sgd3", torch.optim.SGD, "x", has_momentum=True, default_options={"lr": 1})
        )
    with pytest.raises(ValueError, match="already registered"):
        register_optimizer(OptimizerInfo("sgd", torch.optim.SGD, "x", has_momentum=True))
    assert not {"adagrad2", "sgd2", "sgd3"} & set(optimizer_names())


@pytest.mark.parametrize("name", optimizer_names())
def test_torch_itself_accepts_every_listed_option_and_group_key(name: str) -> None:
    """Oracle independent of the registry's signature reading: the torch class is built with each option at the
    default lrsearch reports, and with each per-group key the capability flags say it has."""
    info = get_optimizer_info(name)
    params = [torch.nn.Parameter(torch.zeros(2))]
    for key, default in info.option_defaults().items():
        if key in ("fused", "foreach", "capturable", "differentiable") and default is None:
            continue  # device-dependent switches: None means "let torch decide"
        info.cls(params, lr=0.1, **{key: default})
    group = {"params": params, "lr": 0.1, "weight_decay": 0.0}
    if info.has_momentum:
        group["momentum"] = 0.5
    if info.has_betas:
        group["betas"] = (0.8, 0.9)
    optimizer = info.cls([group])
    # torch's own record of the settings the class has (a param group would take any key silently)
    assert ("momentum" in optimizer.defaults) == info.has_momentum
    assert ("betas" in optimizer.defaults) == info.has_betas
    assert {k: optimizer.param_groups[0][k] for k in group if k != "params"} == {k: v for k, v in group.items()
                                                                                   if k != "params"}
    with pytest.raises(TypeError):
        info.cls(params, lr=0.1, no_such_option=1)
