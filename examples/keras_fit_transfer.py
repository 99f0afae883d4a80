"""A per-group search for a Keras model trained with ``model.fit``, on Keras's JAX backend (or any other).

A conv backbone is pretrained with plain ``fit`` on digits 0-4 (once per process and settings, cached on disk);
each trial puts a new Dense ``head`` on it for digits 5-9, from 20 labels per class, and trains both with ``fit`` and lrsearch's optimizer: per-group lr, momentum/beta1,
weight decay, schedule and freezing, sampled by the study ``studies/keras_fit.yaml``.

The two lines that make it an lrsearch trial are marked ``# <- lrsearch``. Keras is imported inside ``train``,
after ``KERAS_BACKEND`` is set (``task.options.backend``, default jax), so importing this module imports no Keras.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_digits

from lrsearch import TrialContext

PRETRAIN = {"classes": [0, 1, 2, 3, 4], "lr": 0.05, "momentum": 0.9, "batch_size": 64, "seed": 0}
FINETUNE_CLASSES = [5, 6, 7, 8, 9]


def backbone_model(keras: Any, width: int) -> Any:
    layers = keras.layers
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.Conv2D(width, 3, padding="same", use_bias=False, name="conv1"),
        layers.BatchNormalization(name="bn1"),
        layers.ReLU(name="relu1"),
        layers.MaxPooling2D(name="pool1"),
        layers.Conv2D(2 * width, 3, padding="same", use_bias=False, name="conv2"),
        layers.BatchNormalization(name="bn2"),
        layers.ReLU(name="relu2"),
        layers.MaxPooling2D(name="pool2"),
        layers.Flatten(name="flatten"),
    ], name="backbone")


def transfer_model(keras: Any, width: int, classes: int, dropout: float) -> Any:
    """Variables ``backbone/conv1/kernel``, ``backbone/bn1/gamma`` ..., ``head/kernel``, ``head/bias``."""
    inputs = keras.Input((8, 8, 1), name="image")
    features = keras.layers.Dropout(dropout, name="dropout")(backbone_model(keras, width)(inputs))
    return keras.Model(inputs, keras.layers.Dense(classes, name="head")(features), name="digits_transfer")


def digits(classes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits of ``classes``, channels-last in [0, 1], labels renumbered from 0."""
    data = load_digits()
    keep = np.isin(data.target, classes)
    return (data.images[keep] / 16.0).astype("float32")[..., None], data.target[keep] - classes[0]


def fewshot_splits(labels_per_class: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train (``labels_per_class`` images of each of digits 5-9), validation and test (the rest, halved)."""
    x, y = digits(FINETUNE_CLASSES)
    rng = np.random.RandomState(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        rest = members[labels_per_class:]
        for part, index in zip(parts, (members[:labels_per_class], rest[: len(rest) // 2], rest[len(rest) // 2:]),
                               strict=True):
            part.append(index)
    return [(x[np.sort(np.concatenate(p))], y[np.sort(np.concatenate(p))]) for p in parts]


@functools.cache
def pretrained_backbone(width: int, epochs: int, backend: str) -> tuple[np.ndarray, ...]:
    """The backbone's weights after plain ``fit`` on digits 0-4: from ``$LRSEARCH_CACHE_DIR`` or trained now."""
    import keras

    settings = {**PRETRAIN, "width": width, "epochs": epochs, "backend": backend, "keras": keras.__version__}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("LRSEARCH_CACHE_DIR") or Path.home() / ".cache" / "lrsearch")
    path = cache / f"keras-fit-backbone-{digest}.npz"
    if path.exists():
        with np.load(path) as saved:
            return tuple(saved[f"w{i}"] for i in range(len(saved.files)))
    x, y = digits(PRETRAIN["classes"])
    keras.utils.set_random_seed(PRETRAIN["seed"])
    model = transfer_model(keras, width, len(PRETRAIN["classes"]), dropout=0.0)
    model.compile(optimizer=keras.optimizers.SGD(PRETRAIN["lr"], momentum=PRETRAIN["momentum"], nesterov=True),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=PRETRAIN["batch_size"], verbose=0)
    weights = tuple(np.asarray(w) for w in model.get_layer("backbone").get_weights())
    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(partial, **{f"w{i}": w for i, w in enumerate(weights)})
    partial.replace(path)  # workers racing on a cold cache see no file or a whole one
    return weights


def train(ctx: TrialContext) -> None:
    options = {"labels_per_class": 20, "width": 16, "dropout": 0.2, "pretrain_epochs": 30, "backend": "jax",
               **ctx.options}
    os.environ.setdefault("KERAS_BACKEND", options["backend"])  # before Keras is first imported
    import keras

    from lrsearch.integrations.keras import fit_setup

    (x, y), (xv, yv), (xt, yt) = fewshot_splits(options["labels_per_class"])
    backbone = pretrained_backbone(options["width"], options["pretrain_epochs"], keras.backend.backend())

    keras.backend.clear_session()  # the same variable names in every trial of this process
    keras.utils.set_random_seed(ctx.seed)  # a fresh head for each seed
    model = transfer_model(keras, options["width"], len(FINETUNE_CLASSES), options["dropout"])
    model.get_layer("backbone").set_weights(list(backbone))

    optimizer, callbacks = fit_setup(ctx, model, test_data=(xt, yt))  # <- lrsearch
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=ctx.batch_size, epochs=ctx.epochs, validation_data=(xv, yv), verbose=0,
              callbacks=callbacks)  # <- lrsearch: reports each epoch, stops a pruned trial
