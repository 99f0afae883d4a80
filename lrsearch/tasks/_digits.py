"""``digits``: scikit-learn's bundled 8x8 handwritten digits and a small CNN; a whole trial takes seconds on CPU."""

from __future__ import annotations

import functools
from collections import OrderedDict

import torch
from torch import Tensor, nn

from lrsearch.tasks._base import Split, Task, require_int
from lrsearch.tasks._registry import register_task

DIGITS_GROUPS = {"head": ["head.*"], "backbone": ["backbone.*"]}


class DigitsCNN(nn.Module):
    """Two conv blocks (``backbone``) and a linear classifier (``head``) for 1x8x8 inputs.

    Parameter names: ``backbone.conv1.*``, ``backbone.bn1.*``, ``backbone.conv2.*``, ``backbone.bn2.*``,
    ``head.weight``, ``head.bias``.
    """

    def __init__(self, width: int = 16, num_classes: int = 10) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            OrderedDict(
                conv1=nn.Conv2d(1, width, kernel_size=3, padding=1, bias=False),
                bn1=nn.BatchNorm2d(width),
                relu1=nn.ReLU(),
                pool1=nn.MaxPool2d(2),  # 8x8 -> 4x4
                conv2=nn.Conv2d(width, 2 * width, kernel_size=3, padding=1, bias=False),
                bn2=nn.BatchNorm2d(2 * width),
                relu2=nn.ReLU(),
                pool2=nn.MaxPool2d(2),  # 4x4 -> 2x2
                flatten=nn.Flatten(),
            )
        )
        self.head = nn.Linear(2 * width * 2 * 2, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.backbone(x))


@functools.lru_cache(maxsize=1)
def digits_tensors() -> tuple[Tensor, Tensor]:
    """All 1,797 images as float (N, 1, 8, 8) in [0, 1] and their labels (N,), in scikit-learn's order."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    return x, torch.tensor(bunch.target, dtype=torch.long)


def stratified_split(labels: Tensor, fractions: tuple[float, ...], seed: int) -> list[Tensor]:
    """Index tensors, one per fraction, each holding that share of every class (sorted, disjoint, covering all)."""
    generator = torch.Generator().manual_seed(seed)
    parts: list[list[Tensor]] = [[] for _ in fractions]
    total = sum(fractions)
    for label in labels.unique().tolist():
        members = (labels == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        bounds = [round(len(members) * sum(fractions[: i + 1]) / total) for i in range(len(fractions))]
        start = 0
        for part, end in zip(parts, bounds, strict=True):
            part.append(members[start:end])
            start = end
    return [torch.cat(part).sort().values for part in parts]


def digits(width: int = 16, split_seed: int = 0) -> Task:
    require_int("digits", "width", width, minimum=1)
    require_int("digits", "split_seed", split_seed)
    x, y = digits_tensors()
    train, val, test = stratified_split(y, (0.6, 0.2, 0.2), split_seed)
    return Task(
        name="digits",
        build_model=functools.partial(DigitsCNN, width=width, num_classes=10),
        train=Split(x[train], y[train]),
        val=Split(x[val], y[val]),
        test=Split(x[test], y[test]),
        suggested_groups=DIGITS_GROUPS,
        info={
            "source": "sklearn.datasets.load_digits",
            "input_shape": (1, 8, 8),
            "num_classes": 10,
            "sizes": {"train": len(train), "val": len(val), "test": len(test)},
            "width": width,
            "split_seed": split_seed,
        },
    )


register_task(
    "digits",
    digits,
    "scikit-learn's 8x8 digits (1,797 images, 60/20/20 stratified split), small CNN: backbone.* + head.*",
    {
        "width": "channels of the first conv layer (the second has twice as many)",
        "split_seed": "seed of the train/val/test split (independent of the trial seed)",
    },
)
