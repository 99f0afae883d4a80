"""Small real Keras models for the tests: a functional one and a subclassed one, both with nested layers."""

from __future__ import annotations

import keras
import torch
from keras import layers


def functional_model(num_classes: int = 3) -> keras.Model:
    """``backbone`` (a nested Sequential: dense, BatchNormalization) -> dropout -> ``head``; input (N, 6)."""
    backbone = keras.Sequential(
        [layers.Dense(8, name="dense"), layers.BatchNormalization(name="bn"), layers.ReLU(name="relu")],
        name="backbone",
    )
    inputs = keras.Input((6,), name="features")
    hidden = layers.Dropout(0.5, name="dropout")(backbone(inputs))
    return keras.Model(inputs, layers.Dense(num_classes, name="head")(hidden), name="functional_net")


FUNCTIONAL_TRAINABLE = [
    "backbone/dense/kernel", "backbone/dense/bias", "backbone/bn/gamma", "backbone/bn/beta", "head/kernel", "head/bias",
]


class Block(keras.layers.Layer):
    """A custom layer holding sublayers: Dense then LayerNormalization."""

    def __init__(self, units: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.dense = layers.Dense(units, name="dense")
        self.norm = layers.LayerNormalization(name="norm")

    def call(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.dense(x))


class SubclassedNet(keras.Model):
    """Two Blocks and a head; ``call`` has no ``training`` argument, as many subclassed models do not."""

    def __init__(self, num_classes: int = 3) -> None:
        super().__init__()
        self.encoder = Block(8, name="encoder")
        self.decoder = Block(8, name="decoder")
        self.drop = layers.Dropout(0.5, name="dropout")
        self.head = layers.Dense(num_classes, name="head")

    def call(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.decoder(self.encoder(x))))


def subclassed_model(num_classes: int = 3) -> SubclassedNet:
    model = SubclassedNet(num_classes)
    model(torch.zeros(2, 6))  # build: a subclassed model has no variables until it is called
    return model


SUBCLASSED_TRAINABLE = [
    "encoder/dense/kernel", "encoder/dense/bias", "encoder/norm/gamma", "encoder/norm/beta",
    "decoder/dense/kernel", "decoder/dense/bias", "decoder/norm/gamma", "decoder/norm/beta",
    "head/kernel", "head/bias",
]
