"""``digits-transformer``: fine-tuning a pretrained transformer encoder, for layer-wise lr decay studies.

A small pre-norm transformer reads each 8x8 digit as 8 row tokens (plus a class token). It is pretrained on
digits 0-4 (once per settings, cached on disk like ``digits-transfer``'s backbone) and fine-tuned with a new
head on digits 5-9 from a few labels per class: the setting where layer-wise lr decay matters, since the lower
layers hold the features worth keeping. Parameter names follow the usual transformer layout:
``cls_token``, ``pos_embedding``, ``embed.*``, ``encoder.layers.<i>.*``, ``norm.*``, ``head.*``.
"""

from __future__ import annotations

import functools
import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lrsearch.errors import TaskError
from lrsearch.tasks._base import Split, Task, require_float, require_int
from lrsearch.tasks._fit import evaluate_accuracy
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

ROWS = 8  # tokens per image
LAYERWISE_PATTERN = r"encoder\.layers\.(\d+)\..*"
# Bump when the architecture or the recipe changes, so stale cached encoders are not reused.
PRETRAIN_FORMAT = 1
PRETRAIN_RECIPE = {"lr": 3e-3, "weight_decay": 0.01, "batch_size": 64, "warmup": 0.1}


class DigitsTransformer(nn.Module):
    """A pre-norm ``nn.TransformerEncoder`` classifying (N, 1, 8, 8) digit images from 8 row tokens."""

    def __init__(self, d_model: int = 32, layers: int = 4, heads: int = 4, dropout: float = 0.1,
                 num_classes: int = 10) -> None:
        super().__init__()
        self.embed = nn.Linear(ROWS, d_model)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d_model))
        self.pos_embedding = nn.Parameter(torch.randn(1, ROWS + 1, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=2 * d_model, dropout=dropout,
                                           batch_first=True, norm_first=True)
        # enable_nested_tensor only applies to post-norm layers; off, so torch does not warn about it.
        self.encoder = nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.embed(x.reshape(x.shape[0], ROWS, -1))  # (N, 8 rows, 8 pixels) -> (N, 8, d_model)
        tokens = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), tokens], dim=1) + self.pos_embedding
        return self.head(self.norm(self.encoder(tokens)[:, 0]))


def _pretrain(model: nn.Module, split: Split, epochs: int, seed: int) -> None:
    """AdamW with linear warmup and cosine decay: the fixed recipe that makes the cached encoder."""
    generator = torch.Generator().manual_seed(seed)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and not n.startswith(("cls_token", "pos_"))]
    rest = [p for p in model.parameters() if all(p is not q for q in decay)]
    optimizer = torch.optim.AdamW([{"params": decay}, {"params": rest, "weight_decay": 0.0}],
                                  lr=PRETRAIN_RECIPE["lr"], weight_decay=PRETRAIN_RECIPE["weight_decay"])
    batch = int(PRETRAIN_RECIPE["batch_size"])
    total = max(1, epochs * math.ceil(len(split) / batch))
    warm = max(1, int(PRETRAIN_RECIPE["warmup"] * total))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / (total - warm))))
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(split), generator=generator)
        for start in range(0, len(split), batch):
            index = order[start:start + batch]
            loss = F.cross_entropy(model(split.x[index]), split.y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()


def pretrained_encoder(settings: dict[str, Any], cache_dir: Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """The model's state without its head, pretrained on digits 0-4: from the cache, or trained now and cached."""
    settings = {"format": PRETRAIN_FORMAT, "classes": list(PRETRAIN_CLASSES), **settings, **PRETRAIN_RECIPE}
    path = cache_file(cache_dir, "digits-transformer", settings)
    saved = load_torch_cache(path, settings)
    if saved is not None:
        return saved["encoder"], {"path": str(path), "from_cache": True, **saved["report"]}
    started = time.perf_counter()
    x, y, train, val = pretrain_indices(settings["split_seed"])
    with torch.random.fork_rng(devices=[]):  # the same weights whatever the caller's seed; its RNG untouched
        torch.manual_seed(settings["split_seed"])
        model = DigitsTransformer(settings["d_model"], settings["layers"], settings["heads"], settings["dropout"],
                                  num_classes=len(PRETRAIN_CLASSES))
        _pretrain(model, Split(x[train], y[train]), settings["pretrain_epochs"], settings["split_seed"])
    report = {"seconds": round(time.perf_counter() - started, 3),
              "val_accuracy": evaluate_accuracy(model, Split(x[val], y[val])), "train_size": len(train)}
    encoder = {k: v.detach().clone() for k, v in model.state_dict().items() if not k.startswith("head.")}
    payload = {"settings": settings, "encoder": encoder, "report": report}
    write_atomic(path, lambda fh: torch.save(payload, fh), "task 'digits-transformer'")
    return encoder, {"path": str(path), "from_cache": False, **report}


def _build(d_model: int, layers: int, heads: int, dropout: float, encoder: dict[str, Tensor]) -> DigitsTransformer:
    model = DigitsTransformer(d_model, layers, heads, dropout, num_classes=len(FINETUNE_CLASSES))
    result = model.load_state_dict(encoder, strict=False)
    assert sorted(result.missing_keys) == ["head.bias", "head.weight"] and not result.unexpected_keys, result
    return model


def digits_transformer(d_model: int = 32, layers: int = 4, heads: int = 4, dropout: float = 0.1,
                       pretrain_epochs: int = 40, labels_per_class: int = 20, cache_dir: str | None = None,
                       split_seed: int = 0) -> Task:
    name = "digits-transformer"
    require_int(name, "d_model", d_model, minimum=1)
    require_int(name, "layers", layers, minimum=1, maximum=48)
    require_int(name, "heads", heads, minimum=1)
    require_float(name, "dropout", dropout, 0.0, 0.9)
    require_int(name, "pretrain_epochs", pretrain_epochs, minimum=1)
    require_int(name, "labels_per_class", labels_per_class, minimum=1, maximum=100)
    require_int(name, "split_seed", split_seed)
    if d_model % heads:
        raise TaskError(f"task {name!r}: task.options.d_model must be a multiple of heads, got {d_model} and {heads}")
    settings = {"d_model": d_model, "layers": layers, "heads": heads, "dropout": dropout,
                "pretrain_epochs": pretrain_epochs, "split_seed": split_seed}
    encoder, pretrain = pretrained_encoder(settings, cache_dir_option(cache_dir))

    x, y, train, val, test = fewshot_indices(labels_per_class, split_seed)

    def split(index: Tensor) -> Split:
        return Split(x[index], y[index] - FINETUNE_CLASSES[0])  # digits 5-9 become classes 0-4

    return Task(
        name=name,
        build_model=functools.partial(_build, d_model, layers, heads, dropout, encoder),
        train=split(train),
        val=split(val),
        test=split(test),
        suggested_groups={"head": ["head.*", "norm.*"], "layers": [f"re:{LAYERWISE_PATTERN}"],
                          "embeddings": ["embed.*", "pos_embedding", "cls_token"]},
        info={
            "source": "sklearn.datasets.load_digits",
            "input_shape": (1, 8, 8),
            "tokens": "8 rows of 8 pixels, plus a class token",
            "num_classes": len(FINETUNE_CLASSES),
            "classes": "digits 5-9 relabelled 0-4; encoder pretrained on digits 0-4",
            "sizes": {"train": len(train), "val": len(val), "test": len(test)},
            **settings,
            "labels_per_class": labels_per_class,
            "pretrain": pretrain,
        },
    )


register_task(
    "digits-transformer",
    digits_transformer,
    "fine-tune a transformer encoder pretrained on digits 0-4 (cached on disk; 8 row tokens) with a new head on "
    "digits 5-9: embed.*, pos_embedding, cls_token, encoder.layers.<i>.*, norm.*, head.*",
    {
        "d_model": "width of the tokens",
        "layers": "encoder layers (encoder.layers.0 is nearest the input)",
        "heads": "attention heads (d_model must be a multiple)",
        "dropout": "dropout inside the encoder layers",
        "pretrain_epochs": "epochs of pretraining on digits 0-4 (AdamW, warmup + cosine)",
        "labels_per_class": "training images per class (digits 5-9); the rest split evenly into val and test",
        "cache_dir": f"where the pretrained encoder is cached; default ${CACHE_ENV} or ~/.cache/lrsearch",
        "split_seed": "seed of the splits and of pretraining (independent of the trial seed)",
    },
)
