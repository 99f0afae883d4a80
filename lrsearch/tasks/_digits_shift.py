"""``digits-shift``: fine-tuning across a distribution shift between pretraining and fine-tuning inputs.

The backbone of ``digits-transfer`` (pretrained on clean digits 0-4, the same cached weights) is fine-tuned with
a new head on digits 5-9 whose images are rotated by 90 degrees and inverted (dark strokes on a bright
ground), from a few labels per class. The shift is at the input, where surgical fine-tuning (Lee et al., ICLR
2023) finds the early layers need the most adaptation: the setting in which per-group settings are expected to
matter more than in-distribution.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from lrsearch.errors import TaskError
from lrsearch.tasks._base import Split, Task, require_int
from lrsearch.tasks._digits import DIGITS_GROUPS
from lrsearch.tasks._digits_transfer import _build, pretrained_backbone
from lrsearch.tasks._registry import register_task
from lrsearch.tasks._transfer_common import CACHE_ENV, FINETUNE_CLASSES, cache_dir_option, fewshot_indices

SHIFTS = ("rotate", "invert", "rotate+invert")


def shifted(x: Tensor, shift: str) -> Tensor:
    """``x`` (N, 1, 8, 8) in [0, 1] rotated by 90 degrees and/or inverted."""
    if "rotate" in shift:
        x = torch.rot90(x, 1, dims=(2, 3))
    if "invert" in shift:
        x = 1.0 - x
    return x.contiguous()


def digits_shift(
    labels_per_class: int = 10,
    shift: str = "rotate+invert",
    pretrain_epochs: int = 30,
    width: int = 16,
    cache_dir: str | None = None,
    split_seed: int = 0,
) -> Task:
    name = "digits-shift"
    require_int(name, "labels_per_class", labels_per_class, minimum=1, maximum=100)
    require_int(name, "pretrain_epochs", pretrain_epochs, minimum=1)
    require_int(name, "width", width, minimum=1)
    require_int(name, "split_seed", split_seed)
    if shift not in SHIFTS:
        raise TaskError(f"task {name!r}: option shift must be one of {', '.join(SHIFTS)}, got {shift!r}")
    backbone, pretrain = pretrained_backbone(width, pretrain_epochs, split_seed, cache_dir_option(cache_dir))
    x, y, train, val, test = fewshot_indices(labels_per_class, split_seed)
    x = shifted(x, shift)

    def split(index: Tensor) -> Split:
        return Split(x[index], y[index] - FINETUNE_CLASSES[0])

    return Task(
        name=name,
        build_model=functools.partial(_build, width, backbone),
        train=split(train),
        val=split(val),
        test=split(test),
        suggested_groups=DIGITS_GROUPS,
        info={
            "source": "sklearn.datasets.load_digits",
            "input_shape": (1, 8, 8),
            "num_classes": len(FINETUNE_CLASSES),
            "classes": f"digits 5-9 ({shift}) relabelled 0-4; backbone pretrained on clean digits 0-4",
            "sizes": {"train": len(train), "val": len(val), "test": len(test)},
            "labels_per_class": labels_per_class,
            "shift": shift,
            "width": width,
            "split_seed": split_seed,
            "pretrain": pretrain,
        },
    )


register_task(
    "digits-shift",
    digits_shift,
    "fine-tune the digits-transfer backbone (clean digits 0-4) on rotated, inverted digits 5-9, few labels",
    {
        "labels_per_class": "training images per class (digits 5-9); the rest split evenly into val and test",
        "shift": f"what changes between pretraining and fine-tuning inputs: {', '.join(SHIFTS)}",
        "pretrain_epochs": "epochs of pretraining on clean digits 0-4 (the digits-transfer backbone)",
        "width": "channels of the first conv layer (the second has twice as many)",
        "cache_dir": f"where the pretrained backbone is cached; default ${CACHE_ENV} or ~/.cache/lrsearch",
        "split_seed": "seed of the splits and of pretraining (independent of the trial seed)",
    },
)
