"""Membership: globs, regexes, rest, layerwise expansion, and every loud failure."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lrsearch.errors import GroupError
from lrsearch.groups import assign_parameters
from lrsearch.trial_config import GroupConfig
from tests.groups.models import CNN_NAMES, SmallCNN, TinyTransformer


def named(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    return list(model.named_parameters())


def test_globs_split_backbone_and_head() -> None:
    groups = [
        GroupConfig("backbone", 1e-4, params=["backbone.*"]),
        GroupConfig("head", 1e-2, params=["head.*"]),
    ]
    members = assign_parameters(named(SmallCNN()), groups).members()
    assert members == {"backbone": CNN_NAMES[:7], "head": CNN_NAMES[7:]}


def test_regex_patterns_fullmatch_and_union_of_patterns() -> None:
    groups = [
        GroupConfig("convs", 1e-3, params=[r"re:backbone\.[03]\.weight", "re:backbone.0.bias"]),
        GroupConfig("bns", 1e-3, params=[r"re:backbone\.[14]\..*"]),
        GroupConfig("head", 1e-2, params=["re:head"]),  # fullmatch: 'head' alone matches no parameter
    ]
    with pytest.raises(GroupError) as info:
        assign_parameters(named(SmallCNN()), groups)
    assert "group 'head': pattern 're:head' matched no trainable parameter" in str(info.value)
    groups[2] = GroupConfig("head", 1e-2, params=[r"re:head\.(weight|bias)"])
    members = assign_parameters(named(SmallCNN()), groups).members()
    assert members["convs"] == ["backbone.0.weight", "backbone.0.bias", "backbone.3.weight"]
    assert members["bns"] == ["backbone.1.weight", "backbone.1.bias", "backbone.4.weight", "backbone.4.bias"]
    assert members["head"] == ["head.weight", "head.bias"]


def test_rest_takes_what_no_other_group_takes_wherever_it_is_listed() -> None:
    groups = [GroupConfig("everything_else", 1e-4, rest=True), GroupConfig("head", 1e-2, params=["head.*"])]
    assignment = assign_parameters(named(SmallCNN()), groups)
    assert [g.name for g in assignment.groups] == ["everything_else", "head"]
    assert assignment.members()["everything_else"] == CNN_NAMES[:7]


def test_parameters_frozen_by_the_task_are_not_ours() -> None:
    model = SmallCNN()
    model.backbone[0].requires_grad_(False)
    groups = [
        GroupConfig("backbone", 1e-4, params=["backbone.*"]),
        GroupConfig("head", 1e-2, params=["head.*"]),
    ]
    assert assign_parameters(named(model), groups).members()["backbone"] == CNN_NAMES[2:7]
    # ... and a pattern that only matches them is an error that says so.
    groups.append(GroupConfig("stem", 1e-5, params=["backbone.0.*"]))
    with pytest.raises(GroupError, match="only parameters with requires_grad=False: 'backbone.0.weight'"):
        assign_parameters(named(model), groups)


def test_membership_is_a_function_of_names() -> None:
    groups = [GroupConfig("dense", 1e-3, params=["dense*"]), GroupConfig("rest", 1e-4, rest=True)]
    members = assign_parameters(["dense/kernel", "dense_1/kernel", "conv/bias"], groups).members()
    assert members == {"dense": ["dense/kernel", "dense_1/kernel"], "rest": ["conv/bias"]}


def test_layerwise_on_transformer_encoder_as_in_beit() -> None:
    model = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(16, nhead=2, dim_feedforward=32, batch_first=True),
        4,
        enable_nested_tensor=False,
    )
    groups = [GroupConfig("layers", 1e-3, layerwise=r"layers\.(\d+)\..*", layer_decay=0.5)]
    assignment = assign_parameters(named(model), groups)
    assert [g.name for g in assignment.groups] == ["layers.0", "layers.1", "layers.2", "layers.3"]
    assert [g.lr for g in assignment.groups] == pytest.approx([1e-3 * 0.5**k for k in (4, 3, 2, 1)])
    assert [g.layer for g in assignment.groups] == [0, 1, 2, 3]
    per_layer = len(list(model.layers[0].parameters()))
    assert all(len(g.param_names) == per_layer for g in assignment.groups)
    assert all(n.startswith("layers.2.") for n in assignment.members()["layers.2"])


def test_layerwise_with_embeddings_and_head_groups_inherits_settings() -> None:
    groups = [
        GroupConfig("embeddings", 1e-4, params=["embed.*", "pos"], weight_decay=0.0),
        GroupConfig(
            "blocks",
            2e-3,
            layerwise=r"encoder\.layers\.(\d+)\..*",
            layer_decay=0.8,
            weight_decay=0.05,
            momentum=0.9,
            freeze_epochs=2,
        ),
        GroupConfig("head", 2e-3, params=["head.*", "norm.*"]),
    ]
    assignment = assign_parameters(named(TinyTransformer()), groups)
    names = [g.name for g in assignment.groups]
    assert names == ["embeddings", "blocks.0", "blocks.1", "blocks.2", "blocks.3", "head"]
    blocks = assignment.groups[1:5]
    assert [g.lr for g in blocks] == pytest.approx([2e-3 * 0.8**4, 2e-3 * 0.8**3, 2e-3 * 0.8**2, 2e-3 * 0.8])
    assert assignment.groups[-1].lr == 2e-3  # the head keeps the undecayed lr
    assert {(g.weight_decay, g.config.momentum, g.config.freeze_epochs) for g in blocks} == {(0.05, 0.9, 2)}


def test_layer_indices_sort_numerically_not_as_strings() -> None:
    names = [f"blocks.{i}.weight" for i in (10, 2, 1, 0)]
    groups = [GroupConfig("b", 1.0, layerwise=r"blocks\.(\d+)\.weight", layer_decay=0.5)]
    assignment = assign_parameters(names, groups)
    assert [g.name for g in assignment.groups] == ["b.0", "b.1", "b.2", "b.10"]
    assert [g.lr for g in assignment.groups] == [0.5**4, 0.5**3, 0.5**2, 0.5]


# --- errors ---------------------------------------------------------------------------------------------------


def test_pattern_matching_nothing_names_group_pattern_and_real_names() -> None:
    groups = [GroupConfig("head", 1e-2, params=["_fc.*", "head.*"]), GroupConfig("rest", 1e-4, rest=True)]
    with pytest.raises(GroupError) as info:
        assign_parameters(named(SmallCNN()), groups, optimizer="main")
    message = str(info.value)
    assert "of optimizer 'main'" in message
    assert "group 'head': pattern '_fc.*' matched no trainable parameter" in message
    assert "parameter names look like: " in message and "'head.weight'" in message
    assert "'head.*'" not in message  # the pattern that matched is not reported


def test_parameter_in_two_groups_names_both_groups_and_the_parameters() -> None:
    groups = [
        GroupConfig("backbone", 1e-4, params=["backbone.*"]),
        GroupConfig("biases", 1e-3, params=["*.bias"]),
        GroupConfig("head", 1e-2, params=["head.*"]),
    ]
    with pytest.raises(GroupError) as info:
        assign_parameters(named(SmallCNN()), groups)
    message = str(info.value)
    assert "groups 'backbone' and 'biases' all match 3 parameter(s)" in message
    assert "'backbone.0.bias', 'backbone.1.bias', 'backbone.4.bias'" in message
    assert "groups 'biases' and 'head' all match 1 parameter(s)" in message and "'head.bias'" in message


def test_uncovered_parameters_without_rest_are_listed_with_the_fix() -> None:
    with pytest.raises(GroupError) as info:
        assign_parameters(named(SmallCNN()), [GroupConfig("head", 1e-2, params=["head.*"])])
    message = str(info.value)
    assert "7 trainable parameter(s) are in no group: 'backbone.0.weight'" in message
    assert "'backbone.4.bias'" in message and "rest: true" in message


def test_long_name_lists_are_cut_with_a_count() -> None:
    names = [f"w{i}" for i in range(50)]
    with pytest.raises(GroupError) as info:
        assign_parameters(names, [GroupConfig("first", 1.0, params=["w0"])])
    message = str(info.value)
    assert "49 trainable parameter(s) are in no group" in message
    assert "'w20'" in message and "'w21'" not in message and "(and 29 more)" in message


def test_two_rest_groups() -> None:
    groups = [GroupConfig("a", 1e-3, rest=True), GroupConfig("b", 1e-3, rest=True)]
    with pytest.raises(GroupError, match="groups 'a' and 'b' all have rest: true; at most one"):
        assign_parameters(named(SmallCNN()), groups)


def test_rest_with_nothing_left() -> None:
    groups = [GroupConfig("all", 1e-3, params=["*"]), GroupConfig("rest", 1e-3, rest=True)]
    with pytest.raises(GroupError, match="group 'rest': rest: true, but the other groups already take every"):
        assign_parameters(named(SmallCNN()), groups)


@pytest.mark.parametrize(
    ("layerwise", "expected"),
    [
        (r"encoder\.layers\.\d+\..*", r"has no capture group"),
        (
            r"encoder\.layers\.(\d+\.self_attn)\..*",
            r"must capture an integer layer index, but captured: "
            r"'encoder\.layers\.0\.self_attn\.in_proj_weight' -> '0\.self_attn'",
        ),
        (r"encoder\.layers\.(\d+\..*", r"is not a valid regex"),
        (r"decoder\.layers\.(\d+)\..*", r"matched no trainable parameter; parameter names look like: "),
    ],
)
def test_bad_layerwise_regex(layerwise: str, expected: str) -> None:
    groups = [
        GroupConfig("blocks", 1e-3, layerwise=layerwise, layer_decay=0.7),
        GroupConfig("rest", 1e-3, rest=True),
    ]
    with pytest.raises(GroupError, match=r"group 'blocks': layerwise (regex )?'.*' " + expected):
        assign_parameters(named(TinyTransformer()), groups)


def test_group_structure_errors() -> None:
    groups = [
        GroupConfig("a", 1e-3, params=["head.*"], rest=True),
        GroupConfig("b", 1e-3),
        GroupConfig("c", 1e-3, params=["backbone.*"], layer_decay=0.5),
        GroupConfig("c", 1e-3, params=["x"]),
    ]
    with pytest.raises(GroupError) as info:
        assign_parameters(named(SmallCNN()), groups)
    message = str(info.value)
    assert "group 'a': give exactly one of params (patterns), rest (everything else) or layerwise; got params and rest" in message
    assert "group 'b': give exactly one of params (patterns), rest (everything else) or layerwise; got none of them" in message
    assert "group 'c': layer_decay needs layerwise" in message
    assert "group name 'c' is used twice" in message


def test_every_problem_is_reported_at_once() -> None:
    groups = [
        GroupConfig("typo", 1e-3, params=["bakbone.*"]),
        GroupConfig("head", 1e-3, params=["head.*"]),
        GroupConfig("bias", 1e-3, params=["head.bias"]),
    ]
    with pytest.raises(GroupError) as info:
        assign_parameters(named(SmallCNN()), groups)
    assert str(info.value).startswith("3 problem(s) with the parameter groups:")
    assert len(info.value.problems) == 3
    assert "'backbone.0.weight'" in info.value.problems[0]  # the close real name is the first hint
