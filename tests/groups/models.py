"""Small real architectures for the group tests."""

from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    """``backbone`` (conv + BatchNorm, one conv without bias) and a linear ``head``."""

    def __init__(self, classes: int = 4) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1, bias=False),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


CNN_NAMES = [
    "backbone.0.weight",
    "backbone.0.bias",
    "backbone.1.weight",
    "backbone.1.bias",
    "backbone.3.weight",
    "backbone.4.weight",
    "backbone.4.bias",
    "head.weight",
    "head.bias",
]


class TinyTransformer(nn.Module):
    """Token + position embeddings, a 4-layer ``nn.TransformerEncoder`` (d_model 16) and a linear head."""

    def __init__(self, vocab: int = 50, d_model: int = 16, num_layers: int = 4, seq: int = 8) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.zeros(1, seq, d_model))
        layer = nn.TransformerEncoderLayer(d_model, nhead=2, dim_feedforward=32, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, 3)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens) + self.pos[:, : tokens.shape[1]]
        return self.head(self.norm(self.encoder(x)).mean(dim=1))
