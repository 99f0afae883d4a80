"""``keras-digits-transfer``: ``digits-transfer`` with a Keras 3 model, trained on Keras's PyTorch backend.

A functional Keras model (a ``backbone`` Sequential of two conv blocks with BatchNormalization, then dropout and
a Dense ``head``) is pretrained with Keras's own ``fit`` on digits 0-4, once per settings, and its backbone
weights are cached on disk. Each trial gets a new head for digits 5-9 and a few labels per class: the same
splits as the torch ``digits-transfer`` task. Group patterns use Keras names: ``backbone/*`` and ``head/*``.
Needs ``lrsearch[keras]``; Keras is imported only when the task is built.
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lrsearch.keras import import_keras
from lrsearch.tasks._base import Split, Task, require_float, require_int
from lrsearch.tasks._registry import register_task
from lrsearch.tasks._transfer_common import (
    CACHE_ENV,
    FINETUNE_CLASSES,
    PRETRAIN_CLASSES,
    cache_dir_option,
    cache_file,
    fewshot_indices,
    pretrain_indices,
    write_atomic,
)

NAME = "keras-digits-transfer"
KERAS_GROUPS = {"head": ["head/*"], "backbone": ["backbone/*"]}
# Bump when the architecture or the recipe changes, so stale cached backbones are not reused.
PRETRAIN_FORMAT = 1
PRETRAIN_RECIPE = {"lr": 0.05, "momentum": 0.9, "batch_size": 64}


def build_keras_digits(width: int, num_classes: int, dropout: float) -> Any:
    """The functional Keras model for channels-last 8x8x1 digits; its variables are named for group patterns.

    Keras names: ``backbone/conv1/kernel``, ``backbone/bn1/{gamma,beta}`` (and the non-trainable
    ``moving_mean``/``moving_variance``), ``backbone/conv2/kernel``, ``backbone/bn2/...``, ``head/{kernel,bias}``.
    """
    keras = import_keras(f"task {NAME!r}")
    layers = keras.layers
    backbone = keras.Sequential(
        [
            layers.Conv2D(width, 3, padding="same", use_bias=False, name="conv1"),
            layers.BatchNormalization(name="bn1"),
            layers.ReLU(name="relu1"),
            layers.MaxPooling2D(name="pool1"),  # 8x8 -> 4x4
            layers.Conv2D(2 * width, 3, padding="same", use_bias=False, name="conv2"),
            layers.BatchNormalization(name="bn2"),
            layers.ReLU(name="relu2"),
            layers.MaxPooling2D(name="pool2"),  # 4x4 -> 2x2
            layers.Flatten(name="flatten"),
        ],
        name="backbone",
    )
    inputs = keras.Input((8, 8, 1), name="image")
    features = layers.Dropout(dropout, name="dropout")(backbone(inputs))
    return keras.Model(inputs, layers.Dense(num_classes, name="head")(features), name="keras_digits")


@contextlib.contextmanager
def keras_seeded(seed: int) -> Iterator[Any]:
    """Keras seeded with ``seed``; the caller's ``random``, numpy and torch generators are as they were after."""
    keras = import_keras(f"task {NAME!r}")
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        keras.utils.set_random_seed(seed)
        try:
            yield keras
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


@contextlib.contextmanager
def quiet_numpy_conversions() -> Iterator[None]:
    """Keras's torch backend converts with ``np.array(x)``: NumPy 2 deprecation noise, nothing a user can fix."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="keras")
        yield


def channels_last(x: Tensor) -> Tensor:
    return x.permute(0, 2, 3, 1).contiguous()  # (N, 1, 8, 8) -> Keras's default (N, 8, 8, 1)


def pretrained_keras_backbone(width: int, pretrain_epochs: int, split_seed: int,
                              cache_dir: Path) -> tuple[list[np.ndarray], dict[str, Any]]:
    """The backbone's weights after ``fit`` on digits 0-4, from the cache or trained now and cached.

    The file name hashes every setting that changes the weights (the Keras version included). It is written to
    a temporary file and renamed into place, so workers racing on a cold cache see no file or a whole one.
    """
    keras = import_keras(f"task {NAME!r}")
    settings = {"format": PRETRAIN_FORMAT, "classes": list(PRETRAIN_CLASSES), "width": width,
                "epochs": pretrain_epochs, "split_seed": split_seed, "keras": keras.__version__, **PRETRAIN_RECIPE}
    path = cache_file(cache_dir, "keras-digits-backbone", settings, suffix=".npz")
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as saved:
                if json.loads(str(saved["settings"])) == settings:
                    weights = [saved[f"w{i}"] for i in range(int(saved["count"]))]
                    return weights, {"path": str(path), "from_cache": True, **json.loads(str(saved["report"]))}
        except Exception:  # an unreadable or foreign cache entry is rebuilt, never fatal
            pass

    started = time.perf_counter()
    x, y, train, val = pretrain_indices(split_seed)
    threads = torch.get_num_threads()
    # One thread: fastest for this small model, and the cached weights do not depend on the machine's cores.
    torch.set_num_threads(1)
    with keras_seeded(split_seed), contextlib.ExitStack() as restore:
        restore.callback(torch.set_num_threads, threads)
        restore.enter_context(quiet_numpy_conversions())
        model = build_keras_digits(width, len(PRETRAIN_CLASSES), dropout=0.0)
        model.compile(
            optimizer=keras.optimizers.SGD(PRETRAIN_RECIPE["lr"], momentum=PRETRAIN_RECIPE["momentum"], nesterov=True),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        model.fit(channels_last(x[train]).numpy(), y[train].numpy(), epochs=pretrain_epochs,
                  batch_size=PRETRAIN_RECIPE["batch_size"], shuffle=True, verbose=0)
        _, val_accuracy = model.evaluate(channels_last(x[val]).numpy(), y[val].numpy(), verbose=0)
        weights = [np.asarray(w) for w in model.get_layer("backbone").get_weights()]
    report = {"seconds": round(time.perf_counter() - started, 3), "val_accuracy": round(float(val_accuracy), 6),
              "train_size": len(train)}
    write_atomic(path, lambda fh: np.savez(fh, settings=json.dumps(settings), report=json.dumps(report),
                                           count=len(weights), **{f"w{i}": w for i, w in enumerate(weights)}),
                 f"task {NAME!r}")
    return weights, {"path": str(path), "from_cache": False, **report}


def _build(width: int, dropout: float, backbone: list[np.ndarray]) -> Any:
    keras = import_keras(f"task {NAME!r}")
    # Auto-generated names restart, so every trial's model has the same names (KerasTuner does the same).
    keras.backend.clear_session(free_memory=False)
    # Deterministic given the caller's torch seed, as Task.build_model promises; a fresh head each seed.
    with keras_seeded(int(torch.randint(0, 2**31 - 1, ()))):
        model = build_keras_digits(width, len(FINETUNE_CLASSES), dropout)
    with quiet_numpy_conversions():
        model.get_layer("backbone").set_weights(backbone)
    return model


def keras_digits_transfer(labels_per_class: int = 20, pretrain_epochs: int = 30, width: int = 16,
                          dropout: float = 0.2, cache_dir: str | None = None, split_seed: int = 0) -> Task:
    require_int(NAME, "labels_per_class", labels_per_class, minimum=1, maximum=100)
    require_int(NAME, "pretrain_epochs", pretrain_epochs, minimum=1)
    require_int(NAME, "width", width, minimum=1)
    dropout = require_float(NAME, "dropout", dropout, 0.0, 0.9)
    require_int(NAME, "split_seed", split_seed)
    backbone, pretrain = pretrained_keras_backbone(
        width, pretrain_epochs, split_seed, cache_dir_option(cache_dir)
    )

    # the same draws as digits-transfer, so both tasks share their splits
    x, y, train, val, test = fewshot_indices(labels_per_class, split_seed)

    def split(index: Tensor) -> Split:
        return Split(channels_last(x[index]), y[index] - FINETUNE_CLASSES[0])  # digits 5-9 become classes 0-4

    return Task(
        name=NAME,
        build_model=functools.partial(_build, width, dropout, backbone),
        train=split(train),
        val=split(val),
        test=split(test),
        suggested_groups=KERAS_GROUPS,
        info={
            "source": "sklearn.datasets.load_digits",
            "framework": f"keras {import_keras().__version__} on the torch backend",
            "input_shape": (8, 8, 1),
            "num_classes": len(FINETUNE_CLASSES),
            "classes": "digits 5-9 relabelled 0-4; backbone pretrained with keras fit on digits 0-4",
            "sizes": {"train": len(train), "val": len(val), "test": len(test)},
            "labels_per_class": labels_per_class,
            "width": width,
            "dropout": dropout,
            "split_seed": split_seed,
            "pretrain": pretrain,
        },
    )


register_task(
    NAME,
    keras_digits_transfer,
    "digits-transfer with a Keras 3 model (needs lrsearch[keras]): a backbone pretrained with keras fit on digits "
    "0-4 (cached), a new head on digits 5-9; groups: backbone/*, head/*",
    {
        "labels_per_class": "training images per class (digits 5-9); the rest split evenly into val and test",
        "pretrain_epochs": "epochs of keras fit on digits 0-4 (train split)",
        "width": "filters of the first conv layer (the second has twice as many)",
        "dropout": "dropout rate before the head (active in training only)",
        "cache_dir": f"where the pretrained backbone is cached; default ${CACHE_ENV} or ~/.cache/lrsearch",
        "split_seed": "seed of the splits and of pretraining (independent of the trial seed)",
    },
)
