from __future__ import annotations

import fnmatch

import torch

from lrsearch.tasks import load_task
from lrsearch.tasks._fit import evaluate_accuracy, fit


def test_splits_are_stratified_disjoint_and_cover_the_data() -> None:
    task = load_task("digits")
    assert task.info["sizes"] == {"train": 1078, "val": 360, "test": 359}
    assert task.train.x.shape == (1078, 1, 8, 8) and task.train.x.dtype == torch.float32
    assert 0.0 <= task.train.x.min() and task.train.x.max() <= 1.0
    rows = {tuple(row.flatten().tolist()) + (int(label),) for split in (task.train, task.val, task.test)
            for row, label in zip(split.x, split.y, strict=True)}
    assert len(rows) >= 1797 - 20  # the data set itself holds a few duplicate images
    for split in (task.val, task.test):
        assert torch.bincount(split.y, minlength=10).min() >= 34


def test_split_is_fixed_by_split_seed_not_the_torch_seed() -> None:
    torch.manual_seed(1)
    first = load_task("digits").val.y
    from lrsearch.tasks._digits import digits

    torch.manual_seed(2)
    assert torch.equal(digits().val.y, first)
    assert not torch.equal(digits(split_seed=1).val.y, first)


def test_model_is_backbone_plus_head_and_seeded() -> None:
    task = load_task("digits", options={"width": 8})
    torch.manual_seed(0)
    model = task.build_model()
    names = [name for name, _ in model.named_parameters()]
    assert names[-2:] == ["head.weight", "head.bias"]
    for name in names:  # the suggested groups take every parameter exactly once
        assert sum(any(fnmatch.fnmatchcase(name, p) for p in pats) for pats in task.suggested_groups.values()) == 1
    torch.manual_seed(0)
    again = task.build_model()
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True))
    assert model(task.train.x[:5]).shape == (5, 10)


def test_two_epochs_learn_well_above_chance() -> None:
    task = load_task("digits")
    torch.manual_seed(0)
    model = task.build_model()
    before = evaluate_accuracy(model, task.val)
    fit(model, task.train, epochs=2, lr=0.05)
    after = evaluate_accuracy(model, task.val)
    assert after > 0.8 and after > before + 0.5
