"""A minimal fixed-recipe training loop for in-memory splits: pretraining backbones that tasks ship with.

Not the managed trial loop (``lrsearch.training``): no groups, schedules search or reporting, just a recipe that
must give the same weights for the same settings.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lrsearch.tasks._base import Split


def fit(
    model: nn.Module,
    split: Split,
    epochs: int,
    lr: float = 0.05,
    batch_size: int = 64,
    weight_decay: float = 5e-4,
    seed: int = 0,
) -> list[float]:
    """SGD with Nesterov momentum 0.9 and a per-step cosine decay; returns the mean training loss of each epoch."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(len(split) / batch_size)
    total = max(1, epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / total)))
    losses = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(split), generator=generator)
        running = 0.0
        for start in range(0, len(split), batch_size):
            index = order[start : start + batch_size]
            loss = F.cross_entropy(model(split.x[index]), split.y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            running += loss.item() * len(index)
        losses.append(running / len(split))
    return losses


@torch.no_grad()
def evaluate_accuracy(model: nn.Module, split: Split, batch_size: int = 512) -> float:
    model.eval()
    correct = 0
    for start in range(0, len(split), batch_size):
        outputs = model(split.x[start : start + batch_size])
        correct += (outputs.argmax(dim=1) == split.y[start : start + batch_size]).sum().item()
    return correct / len(split)
