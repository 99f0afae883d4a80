"""``digits-transfer``: a real transfer set-up in seconds.

A backbone pretrained on digits 0-4 (cached on disk, trained once per settings) is fine-tuned with a new head on
digits 5-9 from a few labels per class. Pretraining and fine-tuning classes are disjoint, so what transfers is
the features, not the labels.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from lrsearch.errors import TaskError
from lrsearch.tasks._base import Split, Task, require_int
from lrsearch.tasks._digits import DIGITS_GROUPS, DigitsCNN, digits_tensors, stratified_split
from lrsearch.tasks._fit import evaluate_accuracy, fit
from lrsearch.tasks._registry import register_task

PRETRAIN_CLASSES = (0, 1, 2, 3, 4)
FINETUNE_CLASSES = (5, 6, 7, 8, 9)
# Bump when the architecture or the recipe changes, so stale cached backbones are not reused.
PRETRAIN_FORMAT = 1
PRETRAIN_RECIPE = {"lr": 0.05, "batch_size": 64, "weight_decay": 5e-4}
CACHE_ENV = "LRSEARCH_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$LRSEARCH_CACHE_DIR``, else ``~/.cache/lrsearch``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "lrsearch")


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
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir / f"digits-backbone-{digest}.pt"
    if path.exists():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            if saved.get("settings") == settings:
                return saved["backbone"], {"path": str(path), "from_cache": True, **saved["report"]}
        except Exception:  # an unreadable or foreign cache entry is rebuilt, never fatal
            pass

    started = time.perf_counter()
    x, y = digits_tensors()
    train, val, _ = stratified_split(y, (0.6, 0.2, 0.2), split_seed)
    train = train[torch.isin(y[train], torch.tensor(PRETRAIN_CLASSES))]
    val = val[torch.isin(y[val], torch.tensor(PRETRAIN_CLASSES))]
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
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache_dir, prefix=path.name, suffix=".tmp", delete=False) as tmp:
            torch.save({"settings": settings, "backbone": backbone, "report": report}, tmp)
        os.replace(tmp.name, path)
    except OSError as exc:
        raise TaskError(
            f"task 'digits-transfer': cannot write the pretrained backbone to {cache_dir} ({exc}); "
            f"set task.options.cache_dir or ${CACHE_ENV} to a writable directory"
        ) from exc
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
        width, pretrain_epochs, split_seed, Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    )

    x, y = digits_tensors()
    generator = torch.Generator().manual_seed(split_seed)
    train_parts, rest_parts = [], []
    for label in FINETUNE_CLASSES:
        members = (y == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        train_parts.append(members[:labels_per_class])
        rest_parts.append(members[labels_per_class:])
    train = torch.cat(train_parts).sort().values
    rest = torch.cat(rest_parts).sort().values
    val_in_rest, test_in_rest = stratified_split(y[rest], (0.5, 0.5), split_seed)
    val, test = rest[val_in_rest], rest[test_in_rest]

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
