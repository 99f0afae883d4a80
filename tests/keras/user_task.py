"""A user's own task (``task: {entrypoint: tests.keras.user_task:build}``) returning a subclassed Keras model.

docs/guides/keras.md shows this file; tests/keras/test_training.py trains it with the managed loop.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before Keras is first imported

import keras  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from lrsearch.tasks import Split, Task  # noqa: E402


class MLP(keras.Model):
    def __init__(self, hidden: int, classes: int = 10) -> None:
        super().__init__(name="mlp")
        self.body = keras.Sequential(
            [keras.layers.Dense(hidden, activation="relu", name="dense"), keras.layers.Dropout(0.3, name="dropout")],
            name="body",
        )
        self.head = keras.layers.Dense(classes, name="head")

    def call(self, x: torch.Tensor, training: bool = False) -> torch.Tensor:
        return self.head(self.body(x, training=training))


def build(hidden: int = 32) -> Task:
    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target, dtype=torch.long)

    def build_model() -> MLP:
        keras.backend.clear_session(free_memory=False)  # the same auto-generated names in every trial
        model = MLP(hidden)
        model(x[:1])  # build it: a subclassed model has no variables until it is called
        return model

    return Task(name="keras-mlp", build_model=build_model, train=Split(x[:1000], y[:1000]),
                val=Split(x[1000:1400], y[1000:1400]), test=Split(x[1400:], y[1400:]))
