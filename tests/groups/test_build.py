"""build_param_groups' dicts and describe_groups' table."""

from __future__ import annotations

import pytest

from lrsearch.errors import GroupError
from lrsearch.groups import build_param_groups, describe_groups
from lrsearch.trial_config import GroupConfig, OptimizerConfig
from tests.groups.models import CNN_NAMES, SmallCNN, TinyTransformer


def cnn_config(**kwargs: object) -> OptimizerConfig:
    return OptimizerConfig(
        "main",
        "sgd",
        groups=[
            GroupConfig(
                "backbone", 1e-4, params=["backbone.*"], momentum=0.8, freeze_epochs=2, weight_decay=0.01
            ),
            GroupConfig("head", 1e-2, params=["head.*"], betas=(0.8, 0.99)),
        ],
        **kwargs,
    )


def test_group_dicts_hold_torch_keys_and_lrsearch_tags() -> None:
    model = SmallCNN()
    groups = build_param_groups(model, cnn_config())
    assert set(groups[0]) == {
        "params",
        "param_names",
        "lr",
        "weight_decay",
        "momentum",
        "betas",
        "name",
        "group",
        "layer_scale",
        "no_decay",
        "frozen_until",
    }
    backbone, head = groups
    params = dict(model.named_parameters())
    assert backbone["params"] == [params[n] for n in CNN_NAMES[:7]]
    assert backbone["param_names"] == CNN_NAMES[:7]
    assert (backbone["lr"], backbone["weight_decay"], backbone["momentum"], backbone["betas"]) == (
        1e-4,
        0.01,
        0.8,
        None,
    )
    assert (backbone["frozen_until"], head["frozen_until"]) == (2, 0)
    assert (head["momentum"], head["betas"]) == (None, (0.8, 0.99))


def test_same_inputs_same_groups_and_the_model_is_untouched() -> None:
    model = SmallCNN()
    first = build_param_groups(model, cnn_config(weight_decay_exclude=["ndim1"]))
    second = build_param_groups(model, cnn_config(weight_decay_exclude=["ndim1"]))
    assert [(g["name"], g["param_names"]) for g in first] == [(g["name"], g["param_names"]) for g in second]
    assert all(p.requires_grad for p in model.parameters())


def test_describe_groups_table() -> None:
    config = OptimizerConfig(
        "main",
        "adamw",
        weight_decay_exclude=["ndim1"],
        groups=[
            GroupConfig("emb", 1e-4, params=["embed.*", "pos"], weight_decay=0.1),
            GroupConfig(
                "blocks",
                1e-3,
                layerwise=r"encoder\.layers\.(\d+)\..*",
                layer_decay=0.5,
                weight_decay=0.1,
                freeze_epochs=1,
            ),
            GroupConfig("head", 1e-3, rest=True),
        ],
    )
    table = describe_groups(TinyTransformer(), config)
    lines = table.splitlines()
    assert lines[0].split() == ["group", "tensors", "params", "lr", "lr", "scale", "wd", "frozen", "examples"]
    row = next(line for line in lines if line.startswith("blocks.0 "))
    assert "0.5^4 = 0.0625" in row and "6.25e-05" in row and "until epoch 1" in row
    assert "encoder.layers.0.self_attn.in_proj_weight" in row
    emb = next(line for line in lines if line.startswith("emb "))
    assert emb.split()[1:3] == ["2", "928"]  # embed 50x16 + pos 1x8x16
    total = sum(p.numel() for p in TinyTransformer().parameters())
    assert (
        lines[-1] == f"optimizer 'main' (adamw): 11 group(s), 54 tensor(s), {total:,} trainable parameter(s)"
    )


def test_describe_groups_raises_the_group_problems() -> None:
    config = OptimizerConfig("main", "sgd", groups=[GroupConfig("head", 1e-2, params=["head.*"])])
    with pytest.raises(GroupError, match="7 trainable parameter"):
        describe_groups(SmallCNN(), config)
