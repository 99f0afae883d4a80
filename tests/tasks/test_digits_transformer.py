from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from lrsearch.errors import TaskError
from lrsearch.groups import build_param_groups
from lrsearch.space import GroupConfig, OptimizerConfig, ScheduleConfig, TrialConfig
from lrsearch.tasks import load_task
from lrsearch.tasks._digits_transformer import LAYERWISE_PATTERN, DigitsTransformer, digits_transformer
from lrsearch.training import NullRecorder, TrialContext, managed_train

FAST = {"pretrain_epochs": 10}  # enough to learn digits 0-4 well above chance, in seconds


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Small models train fastest on one thread, and a shared machine does not oversubscribe its cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_parameter_names_follow_the_transformer_layout() -> None:
    model = DigitsTransformer(d_model=16, layers=3, heads=2, num_classes=5)
    names = [n for n, _ in model.named_parameters()]
    layers = {int(m.group(1)) for n in names if (m := re.fullmatch(LAYERWISE_PATTERN, n))}
    assert layers == {0, 1, 2}
    others = {n.split(".")[0] for n in names if not re.fullmatch(LAYERWISE_PATTERN, n)}
    assert others == {"cls_token", "pos_embedding", "embed", "norm", "head"}
    assert model(torch.rand(7, 1, 8, 8)).shape == (7, 5)


def test_encoder_is_pretrained_once_cached_and_loaded_without_its_head(tmp_path: Path) -> None:
    first = digits_transformer(cache_dir=str(tmp_path), **FAST)
    pretrain = first.info["pretrain"]
    assert pretrain["from_cache"] is False and pretrain["val_accuracy"] > 0.7, pretrain  # 5 classes: chance 0.2
    second = digits_transformer(cache_dir=str(tmp_path), **FAST)
    assert second.info["pretrain"]["from_cache"] is True
    assert [p.name for p in tmp_path.iterdir()] == [Path(pretrain["path"]).name]
    saved = torch.load(pretrain["path"], weights_only=True)["encoder"]
    torch.manual_seed(0)
    a = second.build_model().state_dict()
    torch.manual_seed(1)
    b = second.build_model().state_dict()
    assert all(torch.equal(a[k], saved[k]) for k in saved) and "head.weight" not in saved
    assert not torch.equal(a["head.weight"], b["head.weight"]), "the new head is freshly initialised"


def test_splits_are_few_labels_of_digits_5_to_9_and_disjoint() -> None:
    task = load_task("digits-transformer", options={**FAST, "labels_per_class": 7})
    assert len(task.train) == 35 and task.train.y.bincount().tolist() == [7] * 5
    assert set(task.val.y.tolist()) == set(range(5)) == set(task.test.y.tolist())
    rows = {tuple(x.flatten().tolist()) for split in (task.train, task.val, task.test) for x in split.x}
    assert len(rows) >= len(task.train) + len(task.val) + len(task.test) - 5  # a few digits repeat pixel for pixel


@pytest.mark.parametrize(("options", "message"), [
    ({"d_model": 30, "heads": 4}, "d_model must be a multiple of heads, got 30 and 4"),
    ({"labels_per_class": 0}, "labels_per_class must be between 1 and 100, got 0"),
    ({"dropout": 1.5}, "dropout must be a number between 0.0 and 0.9"),
])
def test_bad_options_name_the_option(options: dict, message: str) -> None:
    with pytest.raises(TaskError, match=re.escape(message)):
        load_task("digits-transformer", options=options)


def test_layerwise_groups_decay_towards_the_input() -> None:
    model = DigitsTransformer(num_classes=5)
    config = OptimizerConfig(key="main", name="adamw", groups=[
        GroupConfig(name="head", lr=0.01, params=["head.*", "norm.*"]),
        GroupConfig(name="layers", lr=0.01, layerwise=LAYERWISE_PATTERN, layer_decay=0.5),
        GroupConfig(name="embeddings", lr=0.001, rest=True),
    ])
    lrs = {g["name"]: g["lr"] for g in build_param_groups(model, config)}
    assert lrs == pytest.approx({"head": 0.01, "layers.0": 0.01 / 16, "layers.1": 0.01 / 8, "layers.2": 0.01 / 4,
                                 "layers.3": 0.01 / 2, "embeddings": 0.001})


def test_pretraining_transfers_to_the_new_digits() -> None:
    """Fine-tuned from the cached encoder, the model beats the same model trained from scratch (measured: ~+18
    points after 10 epochs on 100 labels)."""
    task = load_task("digits-transformer", options=FAST)
    scratch = dataclasses.replace(task, build_model=lambda: DigitsTransformer(num_classes=5))
    scores: dict[str, list[float]] = {"pretrained": [], "scratch": []}
    for seed in (0, 1):
        config = TrialConfig(epochs=10, seed=seed, optimizers=[OptimizerConfig(key="main", name="adamw", groups=[
            GroupConfig(name="all", lr=3e-3, rest=True, schedule=ScheduleConfig(shape="cosine", warmup=0.1))])])
        for name, t in (("pretrained", task), ("scratch", scratch)):
            metrics = managed_train(TrialContext(config=config, objective="val_accuracy", recorder=NullRecorder(),
                                                 batch_size=32), t)
            scores[name].append(metrics["val_accuracy"])
    assert sum(scores["pretrained"]) / 2 > sum(scores["scratch"]) / 2 + 0.08, scores
