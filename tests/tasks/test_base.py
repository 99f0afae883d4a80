from __future__ import annotations

import pytest
import torch
from torch import nn

from lrsearch.errors import TaskError
from lrsearch.tasks import Split, Task, accuracy


def _split(n: int = 4) -> Split:
    return Split(torch.zeros(n, 3), torch.zeros(n, dtype=torch.long))


def test_split_is_a_dataset_of_pairs() -> None:
    split = Split(torch.arange(6.0).view(3, 2), torch.tensor([0, 1, 2]))
    assert len(split) == 3
    x, y = split[1]
    assert x.tolist() == [2.0, 3.0] and y.item() == 1


def test_split_rejects_mismatched_lengths() -> None:
    with pytest.raises(TaskError, match="as many targets as inputs, got 3 and 2"):
        Split(torch.zeros(3, 2), torch.zeros(2))


def test_metric_names_follow_metric_keys() -> None:
    task = Task("t", lambda: nn.Linear(3, 2), _split(), _split(), _split())
    assert task.metric_names == ["train_loss", "val_loss", "val_accuracy"]
    custom = Task("t", lambda: nn.Linear(3, 2), _split(), _split(), _split(), metric_keys=("f1", "auc"),
                  default_objective=("val_auc", "maximize"))
    assert custom.metric_names == ["train_loss", "val_loss", "val_f1", "val_auc"]


def test_default_objective_must_be_recorded() -> None:
    with pytest.raises(TaskError, match="'val_f1' is not recorded; recorded metrics: train_loss, val_loss, val_accuracy"):
        Task("t", lambda: nn.Linear(3, 2), _split(), _split(), _split(), default_objective=("val_f1", "maximize"))
    with pytest.raises(TaskError, match="direction must be one of"):
        Task("t", lambda: nn.Linear(3, 2), _split(), _split(), _split(), default_objective=("val_loss", "lower"))


def test_splits_must_be_splits_or_datasets() -> None:
    with pytest.raises(TaskError, match="val must be a Split"):
        Task("t", lambda: nn.Linear(3, 2), _split(), [1, 2], _split())  # type: ignore[arg-type]


def test_accuracy_counts_argmax_hits() -> None:
    outputs = torch.tensor([[2.0, 1.0], [0.0, 1.0], [3.0, 0.0], [0.0, 5.0]])
    assert accuracy(outputs, torch.tensor([0, 1, 1, 1])) == {"accuracy": 0.75}
