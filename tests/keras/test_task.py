"""The builtin keras-digits-transfer task: Keras-pretrained backbone cached on disk, the torch task's splits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lrsearch.errors import TaskError
from lrsearch.tasks import load_task
from lrsearch.tasks._keras_digits_transfer import keras_digits_transfer


def test_backbone_is_pretrained_with_keras_fit_once_then_read_from_the_cache(tmp_path: Path) -> None:
    first = keras_digits_transfer(cache_dir=str(tmp_path), pretrain_epochs=2)
    assert first.info["pretrain"]["from_cache"] is False
    files = list(tmp_path.iterdir())
    assert [f.name for f in files] == [Path(first.info["pretrain"]["path"]).name]  # no temp file left behind
    mtime = files[0].stat().st_mtime_ns
    second = keras_digits_transfer(cache_dir=str(tmp_path), pretrain_epochs=2)
    assert second.info["pretrain"]["from_cache"] is True and files[0].stat().st_mtime_ns == mtime
    assert second.info["pretrain"]["val_accuracy"] == first.info["pretrain"]["val_accuracy"]
    torch.manual_seed(0)
    one = first.build_model()
    torch.manual_seed(0)
    two = second.build_model()
    for a, b in zip(one.variables, two.variables, strict=True):  # the cache gives back the same model
        assert torch.equal(a.value, b.value), a.path
    keras_digits_transfer(cache_dir=str(tmp_path), pretrain_epochs=3)  # other settings, other file
    assert len(list(tmp_path.iterdir())) == 2


def test_unwritable_cache_dir_says_how_to_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TaskError, match="set task.options.cache_dir or \\$LRSEARCH_CACHE_DIR"):
        keras_digits_transfer(cache_dir=str(blocker / "sub"), pretrain_epochs=1)


@pytest.mark.slow
def test_fresh_head_per_seed_on_the_same_backbone() -> None:
    task = load_task("keras-digits-transfer")
    torch.manual_seed(0)
    first = task.build_model()
    torch.manual_seed(1)
    second = task.build_model()
    assert not torch.equal(first.get_layer("head").kernel.value, second.get_layer("head").kernel.value)
    assert torch.equal(first.get_layer("backbone").get_layer("conv1").kernel.value,
                       second.get_layer("backbone").get_layer("conv1").kernel.value)
    assert [v.path for v in first.variables] == [v.path for v in second.variables]  # names do not count up


def test_same_splits_as_the_torch_transfer_task() -> None:
    keras_task = load_task("keras-digits-transfer", options={"labels_per_class": 20})
    torch_task = load_task("digits-transfer", options={"labels_per_class": 20})
    for name in ("train", "val", "test"):
        keras_split, torch_split = getattr(keras_task, name), getattr(torch_task, name)
        assert torch.equal(keras_split.y, torch_split.y)
        assert torch.equal(keras_split.x, torch_split.x.permute(0, 2, 3, 1))  # channels-last for Keras
    assert keras_task.info["sizes"] == {"train": 100, "val": 398, "test": 398}
