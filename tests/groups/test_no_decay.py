"""The weight-decay exclusions and the ``.no_decay`` split."""

from __future__ import annotations

import pytest
from torch import nn

from lrsearch.errors import GroupError
from lrsearch.groups import build_param_groups, no_decay_parameter_names
from lrsearch.trial_config import GroupConfig, OptimizerConfig
from tests.groups.models import SmallCNN, TinyTransformer

CNN_GROUPS = [
    GroupConfig("backbone", 1e-4, params=["backbone.*"], weight_decay=0.05),
    GroupConfig("head", 1e-2, params=["head.*"], weight_decay=0.01),
]


def by_name(groups: list[dict]) -> dict[str, dict]:
    return {g["name"]: g for g in groups}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("bias", {"backbone.0.bias", "backbone.1.bias", "backbone.4.bias", "head.bias"}),
        ("norm", {"backbone.1.weight", "backbone.1.bias", "backbone.4.weight", "backbone.4.bias"}),
        (
            "ndim1",
            {
                "backbone.0.bias",
                "backbone.1.weight",
                "backbone.1.bias",
                "backbone.4.weight",
                "backbone.4.bias",
                "head.bias",
            },
        ),
        ("embedding", set()),
        ("head.*", {"head.weight", "head.bias"}),
        (r"re:backbone\.\d\.bias", {"backbone.0.bias", "backbone.1.bias", "backbone.4.bias"}),
    ],
)
def test_rules_on_a_cnn(rule: str, expected: set[str]) -> None:
    assert no_decay_parameter_names(SmallCNN(), [rule]) == (expected, [])


def test_norm_and_embedding_rules_on_a_transformer() -> None:
    names, problems = no_decay_parameter_names(TinyTransformer(), ["norm", "embedding"])
    assert problems == []
    assert "embed.weight" in names and "pos" not in names
    assert {
        "norm.weight",
        "norm.bias",
        "encoder.layers.2.norm1.weight",
        "encoder.layers.2.norm2.bias",
    } <= names
    assert not any("linear" in n or "self_attn" in n for n in names)


def test_embedding_tied_to_the_output_layer_is_found_under_its_first_name() -> None:
    head = nn.Linear(16, 50, bias=False)
    embed = nn.Embedding(50, 16)
    embed.weight = head.weight  # registered first under 'head'
    model = nn.ModuleDict({"head": head, "embed": embed})
    assert [n for n, _ in model.named_parameters()] == ["head.weight"]
    assert no_decay_parameter_names(model, ["embedding"]) == ({"head.weight"}, [])


def test_custom_norm_modules_are_recognised_by_class_name() -> None:
    class LlamaRMSNorm(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(nn.init.ones_(nn.Linear(4, 1).bias.new_empty(4)))

    class Normalize(nn.Module):  # not a norm layer
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(nn.Linear(4, 1).bias.new_zeros(4))

    model = nn.Sequential(nn.Linear(4, 4), LlamaRMSNorm(), Normalize(), nn.GroupNorm(2, 4))
    assert no_decay_parameter_names(model, ["norm"])[0] == {"1.weight", "3.weight", "3.bias"}


def test_split_gives_no_decay_companions_right_after_their_group() -> None:
    config = OptimizerConfig("main", "sgd", weight_decay_exclude=["bias", "norm"], groups=CNN_GROUPS)
    groups = build_param_groups(SmallCNN(), config)
    assert [g["name"] for g in groups] == ["backbone", "backbone.no_decay", "head", "head.no_decay"]
    named = by_name(groups)
    assert named["backbone"]["param_names"] == ["backbone.0.weight", "backbone.3.weight"]
    assert named["backbone.no_decay"]["param_names"] == [
        "backbone.0.bias",
        "backbone.1.weight",
        "backbone.1.bias",
        "backbone.4.weight",
        "backbone.4.bias",
    ]
    assert [g["weight_decay"] for g in groups] == [0.05, 0.0, 0.01, 0.0]
    assert [g["lr"] for g in groups] == [1e-4, 1e-4, 1e-2, 1e-2]
    assert [g["group"] for g in groups] == ["backbone", "backbone", "head", "head"]
    assert [g["no_decay"] for g in groups] == [False, True, False, True]


def test_ndim1_split_on_layerwise_groups_keeps_layer_lr() -> None:
    config = OptimizerConfig(
        "main",
        "adamw",
        weight_decay_exclude=["ndim1"],
        groups=[
            GroupConfig("emb", 1e-4, params=["embed.*", "pos"], weight_decay=0.1),
            GroupConfig(
                "blocks", 1e-3, layerwise=r"encoder\.layers\.(\d+)\..*", layer_decay=0.5, weight_decay=0.1
            ),
            GroupConfig("head", 1e-3, rest=True, weight_decay=0.1),
        ],
    )
    named = by_name(build_param_groups(TinyTransformer(), config))
    assert list(named)[:5] == ["emb", "blocks.0", "blocks.0.no_decay", "blocks.1", "blocks.1.no_decay"]
    assert named["blocks.0.no_decay"]["lr"] == named["blocks.0"]["lr"] == pytest.approx(1e-3 * 0.5**4)
    assert named["blocks.0.no_decay"]["layer_scale"] == pytest.approx(0.5**4)
    assert named["blocks.0.no_decay"]["weight_decay"] == 0.0
    assert all(p.ndim <= 1 for p in named["blocks.3.no_decay"]["params"])
    assert all(p.ndim > 1 for p in named["blocks.3"]["params"])
    assert "emb.no_decay" not in named  # 'pos' is 3-d and the embedding 2-d: nothing to split


def test_a_group_of_only_exempt_parameters_becomes_its_no_decay_half() -> None:
    config = OptimizerConfig(
        "main",
        "sgd",
        weight_decay_exclude=["norm"],
        groups=[
            GroupConfig("bn", 1e-3, params=[r"re:backbone\.[14]\..*"], weight_decay=0.1),
            GroupConfig("rest", 1e-3, rest=True, weight_decay=0.1),
        ],
    )
    assert [g["name"] for g in build_param_groups(SmallCNN(), config)] == ["bn.no_decay", "rest"]


def test_exclude_pattern_matching_nothing_is_reported_with_group_problems() -> None:
    config = OptimizerConfig(
        "main",
        "sgd",
        weight_decay_exclude=["biases", "bias"],
        groups=[GroupConfig("head", 1e-3, params=["heads.*"]), GroupConfig("rest", 1e-3, rest=True)],
    )
    with pytest.raises(GroupError) as info:
        build_param_groups(SmallCNN(), config)
    message = str(info.value)
    assert message.startswith("2 problem(s) with the parameter groups of optimizer 'main':")
    assert "group 'head': pattern 'heads.*' matched no trainable parameter" in message
    assert (
        "weight_decay_exclude 'biases' is neither a rule (bias, norm, ndim1, embedding) nor a pattern"
        in message
    )


def test_split_name_colliding_with_a_spec_group_is_an_error() -> None:
    config = OptimizerConfig(
        "main",
        "sgd",
        weight_decay_exclude=["bias"],
        groups=[
            GroupConfig("head", 1e-3, params=["head.*"]),
            GroupConfig("head.no_decay", 1e-3, params=["backbone.*"]),
        ],
    )
    with pytest.raises(GroupError, match="two groups end up named 'head.no_decay'"):
        build_param_groups(SmallCNN(), config)
