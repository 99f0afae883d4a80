"""What the digits transfer tasks share: the pretraining and few-label splits, and the on-disk cache.

A pretrained model is cached in a file named by a hash of every setting that changes its weights, written to a
temporary file and renamed into place, so worker processes racing on a cold cache each see no file or a whole one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch
from torch import Tensor

from lrsearch.errors import TaskError
from lrsearch.files import atomic_open
from lrsearch.tasks._digits import digits_tensors, stratified_split

PRETRAIN_CLASSES = (0, 1, 2, 3, 4)
FINETUNE_CLASSES = (5, 6, 7, 8, 9)
CACHE_ENV = "LRSEARCH_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$LRSEARCH_CACHE_DIR``, else ``~/.cache/lrsearch``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "lrsearch")


def cache_dir_option(cache_dir: str | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir else default_cache_dir()


def cache_file(cache_dir: Path, stem: str, settings: dict[str, Any], suffix: str = ".pt") -> Path:
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir / f"{stem}-{digest}{suffix}"


def load_torch_cache(path: Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The saved payload when ``path`` holds one made with ``settings``; an unreadable entry is rebuilt, never fatal."""
    if not path.exists():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None
    return saved if saved.get("settings") == settings else None


def write_atomic(path: Path, write: Callable[[IO[bytes]], None], who: str) -> None:
    """Write ``path`` through a temporary file in the same directory, then rename it into place."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path, "wb") as fh:
            write(fh)
    except OSError as exc:
        raise TaskError(
            f"{who}: cannot write the pretrained weights to {path.parent} ({exc}); "
            f"set task.options.cache_dir or ${CACHE_ENV} to a writable directory"
        ) from exc


def pretrain_indices(split_seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(x, y, train, val)``: the digits and the train/val indices of the pretraining classes 0-4."""
    x, y = digits_tensors()
    train, val, _ = stratified_split(y, (0.6, 0.2, 0.2), split_seed)
    classes = torch.tensor(PRETRAIN_CLASSES)
    return x, y, train[torch.isin(y[train], classes)], val[torch.isin(y[val], classes)]


def fewshot_indices(labels_per_class: int, split_seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``(x, y, train, val, test)`` for fine-tuning on digits 5-9: ``labels_per_class`` training images per class,
    the rest split evenly into validation and test. Every digits transfer task draws the same splits."""
    x, y = digits_tensors()
    generator = torch.Generator().manual_seed(split_seed)
    train_parts, rest_parts = [], []
    for label in FINETUNE_CLASSES:
        members = (y == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        train_parts.append(members[:labels_per_class])
        rest_parts.append(members[labels_per_class:])
    train, rest = torch.cat(train_parts).sort().values, torch.cat(rest_parts).sort().values
    val_in_rest, test_in_rest = stratified_split(y[rest], (0.5, 0.5), split_seed)
    return x, y, train, rest[val_in_rest], rest[test_in_rest]
