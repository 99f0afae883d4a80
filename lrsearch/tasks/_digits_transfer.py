"""``digits-transfer``: a real transfer set-up in seconds.

A backbone pretrained on digits 0-4 (cached on disk, trained once per settings) is fine-tuned with a new head on
digits 5-9 from a few labels per class. Pretraining and fine-tuning classes are disjoint, so what transfers is
the features, not the labels.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from lrsearch.tasks._base import Split, Task, require_int
from lrsearch.tasks._digits import DIGITS_GROUPS, DigitsCNN
from lrsearch.tasks._fit import evaluate_accuracy, fit
from lrsearch.tasks._registry import register_task
from lrsearch.tasks._transfer_common import (
    CACHE_ENV,
    FINETUNE_CLASSES,
    PRETRAIN_CLASSES,
    cache_dir_option,
    cache_file,
    fewshot_indices,
    load_torch_cache,
    pretrain_indices,
    write_atomic,
)

# Bump when the architecture or the recipe changes, so stale cached backbones are not reused.
PRETRAIN_FORMAT = 1
PRETRAIN_RECIPE = {"lr": 0.05, "batch_size": 64, "weight_decay": 5e-4}


def pretrained_backbone(width: int, pretrain_epochs: int, split_seed: int, cache_dir: Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """The backbone state dict pretrained on digits 0-4, from the cache or trained now and cached.

    The file name is a hash of every setting that changes the weights. It is written to a temporary file and
    renamed into place, so worker processes racing on a cold cache each see either no file or a whole one.
    """
    settings = {
        "format": PRETRAIN_FORMAT,
        "classes": list(PRETRAIN_CLASSES),
        "width": width,
        "epochs": pretrain_epochs,
        "split_seed": split_seed,
        **PRETRAIN_RECIPE,
    }
    path = cache_file(cache_dir, "digits-backbone", settings)
    saved = load_torch_cache(path, settings)
    if saved is not None:
        return saved["backbone"], {"path": str(path), "from_cache": True, **saved["report"]}

    started = time.perf_counter()
    x, y, train, val = pretrain_indices(split_seed)
    # Pretraining must give the same weights whatever the caller's seed, without disturbing the caller's RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(split_seed)
        model = DigitsCNN(width=width, num_classes=len(PRETRAIN_CLASSES))
        fit(model, Split(x[train], y[train]), pretrain_epochs, seed=split_seed, **PRETRAIN_RECIPE)
    report = {
        "seconds": round(time.perf_counter() - started, 3),
        "val_accuracy": evaluate_accuracy(model, Split(x[val], y[val])),
        "train_size": len(train),
    }
    backbone = {k: v.detach().clone() for k, v in model.backbone.state_dict().items()}
    payload = {"settings": settings, "backbone": backbone, "report": report}
    write_atomic(path, lambda fh: torch.save(payload, fh), "task 'digits-transfer'")
    return backbone, {"path": str(path), "from_cache": False, **report}


def _build(width: int, backbone: dict[str, Tensor]) -> DigitsCNN:
    model = DigitsCNN(width=width, num_classes=len(FINETUNE_CLASSES))
    model.backbone.load_state_dict(backbone)
    return model


def digits_transfer(
    labels_per_class: int = 10,
    pretrain_epochs: int = 30,
    width: int = 16,
    cache_dir: str | None = None,
    split_seed: int = 0,
) -> Task:
    name = "digits-transfer"
    require_int(name, "labels_per_class", labels_per_class, minimum=1, maximum=100)
    require_int(name, "pretrain_epochs", pretrain_epochs, minimum=1)
    require_int(name, "width", width, minimum=1)
    require_int(name, "split_seed", split_seed)
    backbone, pretrain = pretrained_backbone(
        width, pretrain_epochs, split_seed, cache_dir_option(cache_dir)
    )

    x, y, train, val, test = fewshot_indices(labels_per_class, split_seed)

    def split(index: Tensor) -> Split:
        return Split(x[index], y[index] - FINETUNE_CLASSES[0])  # digits 5-9 become classes 0-4

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
            "classes": "digits 5-9 relabelled 0-4; backbone pretrained on digits 0-4",
            "sizes": {"train": len(train), "val": len(val), "test": len(test)},
            "labels_per_class": labels_per_class,
            "width": width,
            "split_seed": split_seed,
            "pretrain": pretrain,
        },
    )


register_task(
    "digits-transfer",
    digits_transfer,
    "fine-tune a backbone pretrained on digits 0-4 (cached on disk) with a new head on digits 5-9, few labels",
    {
        "labels_per_class": "training images per class (digits 5-9); the rest split evenly into val and test",
        "pretrain_epochs": "epochs of pretraining on digits 0-4 (train split)",
        "width": "channels of the first conv layer (the second has twice as many)",
        "cache_dir": f"where the pretrained backbone is cached; default ${CACHE_ENV} or ~/.cache/lrsearch",
        "split_seed": "seed of the splits and of pretraining (independent of the trial seed)",
    },
)
