"""Group patterns match Keras names (variable paths), for functional and subclassed models."""

from __future__ import annotations

import keras
import pytest
import torch
from torch import nn

from lrsearch.errors import GroupError, TaskError
from lrsearch.groups import build_param_groups, describe_groups, no_decay_parameter_names
from lrsearch.keras import KerasModule, describe_names, keras_variables, named_parameters
from lrsearch.trial_config import GroupConfig, OptimizerConfig
from tests.keras.models import (
    FUNCTIONAL_TRAINABLE,
    SUBCLASSED_TRAINABLE,
    functional_model,
    subclassed_model,
)


def two_groups(head: list[str], rest_name: str = "backbone", **kwargs: object) -> OptimizerConfig:
    return OptimizerConfig("main", "sgd", groups=[GroupConfig("head", 0.1, params=head),
                                                  GroupConfig(rest_name, 0.01, rest=True)], **kwargs)


def trainable_names(model: nn.Module) -> list[str]:
    return [n for n, p in named_parameters(model) if p.requires_grad]


def test_torch_lists_backend_names_lrsearch_lists_keras_names_for_the_same_parameters() -> None:
    model = functional_model()
    torch_names = [n for n, _ in model.named_parameters()]
    assert all(n.startswith(("_torch_params.", "torch_params.")) for n in torch_names)
    assert trainable_names(model) == FUNCTIONAL_TRAINABLE
    # The mapping is explicit and one-to-one: each Keras variable is exactly one of torch's parameters.
    by_identity = {id(p): n for n, p in model.named_parameters()}
    for entry in keras_variables(model):
        assert by_identity[id(entry.parameter)] == entry.torch_name
        assert entry.torch_name.endswith(entry.path) and entry.name == entry.path
    assert len(keras_variables(model)) == len(torch_names)


def test_groups_are_built_from_keras_names() -> None:
    model = functional_model()
    groups = build_param_groups(model, two_groups(["head/*"]))
    assert [g["name"] for g in groups] == ["head", "backbone"]
    assert groups[0]["param_names"] == ["head/kernel", "head/bias"]
    assert groups[1]["param_names"] == FUNCTIONAL_TRAINABLE[:4]
    layer = model.get_layer("head")
    assert groups[0]["params"][0] is layer.kernel.value and groups[0]["params"][1] is layer.bias.value


def test_non_trainable_variables_join_no_group() -> None:
    model = functional_model()
    grouped = {id(p) for g in build_param_groups(model, two_groups(["head/*"])) for p in g["params"]}
    bn = model.get_layer("backbone").get_layer("bn")
    for variable in (bn.moving_mean, bn.moving_variance):
        assert id(variable.value) not in grouped
    assert len(grouped) == len(FUNCTIONAL_TRAINABLE)
    with pytest.raises(GroupError, match="only parameters with requires_grad=False: 'backbone/bn/moving_mean'"):
        build_param_groups(model, two_groups(["backbone/bn/moving_*"]))


def test_a_layer_made_non_trainable_the_keras_way_leaves_its_group() -> None:
    model = functional_model()
    model.get_layer("backbone").trainable = False
    assert trainable_names(model) == ["head/kernel", "head/bias"]
    with pytest.raises(GroupError, match="already take every trainable parameter"):
        build_param_groups(model, two_groups(["head/*"]))


def test_subclassed_names_drop_the_model_name_and_stay_the_same_across_builds() -> None:
    first, second = subclassed_model(), subclassed_model()
    assert first.name != second.name  # Keras uniquifies model names within a process ...
    assert trainable_names(first) == trainable_names(second) == SUBCLASSED_TRAINABLE  # ... lrsearch's names do not
    assert all(e.path == f"{first.name}/{e.name}" for e in keras_variables(first) if e.trainable)
    groups = build_param_groups(first, OptimizerConfig("main", "adamw", groups=[
        GroupConfig("encoder", 1e-3, params=["encoder/*"]),
        GroupConfig("decoder", 1e-2, params=["re:decoder/.*"]),  # Keras OptimizerMap-style regex
        GroupConfig("head", 1e-1, params=["head/*"]),
    ]))
    assert [g["param_names"] for g in groups] == [SUBCLASSED_TRAINABLE[:4], SUBCLASSED_TRAINABLE[4:8],
                                                  SUBCLASSED_TRAINABLE[8:]]


def test_a_wrapped_model_has_the_same_names() -> None:
    model = functional_model()
    assert named_parameters(KerasModule(model)) == named_parameters(model)


def test_weight_decay_rules_know_keras_biases_and_norm_layers() -> None:
    model = subclassed_model()
    names, problems = no_decay_parameter_names(model, ["bias"])
    assert not problems and names == {"encoder/dense/bias", "decoder/dense/bias", "head/bias"}
    names, _ = no_decay_parameter_names(model, ["norm"])
    assert names == {"encoder/norm/gamma", "encoder/norm/beta", "decoder/norm/gamma", "decoder/norm/beta"}
    functional = functional_model()
    names, _ = no_decay_parameter_names(functional, ["norm", "bias"])
    assert names == {"backbone/bn/gamma", "backbone/bn/beta", "backbone/dense/bias", "head/bias"}
    groups = build_param_groups(functional, two_groups(["head/*"], weight_decay_exclude=["bias", "norm"]))
    assert [(g["name"], g["param_names"]) for g in groups] == [
        ("head", ["head/kernel"]), ("head.no_decay", ["head/bias"]),
        ("backbone", ["backbone/dense/kernel"]),
        ("backbone.no_decay", ["backbone/dense/bias", "backbone/bn/gamma", "backbone/bn/beta"]),
    ]


def test_embedding_rule_finds_keras_embeddings() -> None:
    inputs = keras.Input((4,), dtype="int32")
    outputs = keras.layers.Dense(2, name="head")(keras.layers.Flatten()(keras.layers.Embedding(10, 3, name="emb")(inputs)))
    names, _ = no_decay_parameter_names(keras.Model(inputs, outputs), ["embedding"])
    assert names == {"emb/embeddings"}


def test_two_trainable_variables_with_one_path_are_refused() -> None:
    class Twice(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.first = keras.layers.Dense(3, name="dense")
            self.second = keras.layers.Dense(3, name="dense")

        def call(self, x: torch.Tensor) -> torch.Tensor:
            return self.second(self.first(x))

    model = Twice()
    model(torch.zeros(1, 3))
    assert len(list(model.named_parameters())) == 2  # torch sees only half of the four variables
    with pytest.raises(TaskError, match="dense/kernel.*give the layers distinct names"):
        build_param_groups(model, two_groups(["dense/*"]))


def test_an_unbuilt_model_says_to_build_it() -> None:
    from tests.keras.models import SubclassedNet

    with pytest.raises(TaskError, match="has no variables yet: build it"):
        named_parameters(SubclassedNet())


def test_validate_table_lists_keras_names_and_their_torch_parameters() -> None:
    model = functional_model()
    table = describe_groups(model, two_groups(["head/*"]))
    assert "head/kernel, head/bias" in table and "backbone/dense/kernel" in table
    names = describe_names(model)
    for entry in keras_variables(model):
        line = next(line for line in names.splitlines() if line.startswith(entry.name + " "))
        assert line.split()[-1] == entry.torch_name
    assert "backbone/bn/moving_mean" in names and describe_names(nn.Linear(2, 2)) == ""


def test_torch_models_are_named_as_before() -> None:
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    assert named_parameters(model) == list(model.named_parameters())


def test_layerwise_groups_from_keras_block_names() -> None:
    class Stack(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = [keras.layers.Dense(4, name=f"block_{i}") for i in range(3)]
            self.head = keras.layers.Dense(2, name="head")

        def call(self, x: torch.Tensor) -> torch.Tensor:
            for block in self.blocks:
                x = block(x)
            return self.head(x)

    model = Stack()
    model(torch.zeros(1, 4))
    groups = build_param_groups(model, OptimizerConfig("main", "sgd", groups=[
        GroupConfig("head", 0.1, params=["head/*"]),
        GroupConfig("layers", 0.1, layerwise="block_(\\d+)/.*", layer_decay=0.5),
    ]))
    assert [(g["name"], g["param_names"], g["lr"]) for g in groups] == [
        ("head", ["head/kernel", "head/bias"], 0.1),
        ("layers.0", ["block_0/kernel", "block_0/bias"], 0.1 * 0.5**3),
        ("layers.1", ["block_1/kernel", "block_1/bias"], 0.1 * 0.5**2),
        ("layers.2", ["block_2/kernel", "block_2/bias"], 0.1 * 0.5),
    ]
