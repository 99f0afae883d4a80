"""``digits-shift``: the digits-transfer backbone fine-tuned on rotated, inverted digits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lrsearch.errors import TaskError
from lrsearch.tasks import load_task


def test_the_fine_tuning_inputs_are_the_transfer_tasks_rotated_and_inverted(tmp_path: Path) -> None:
    options = {"pretrain_epochs": 1, "cache_dir": str(tmp_path)}
    plain = load_task("digits-transfer", None, options)
    shifted = load_task("digits-shift", None, options)
    assert torch.equal(shifted.train.y, plain.train.y) and torch.equal(shifted.test.y, plain.test.y)
    assert torch.allclose(shifted.train.x, 1.0 - torch.rot90(plain.train.x, 1, dims=(2, 3)))
    # the same pretrained backbone, from the same cache file
    assert shifted.info["pretrain"]["path"] == plain.info["pretrain"]["path"]
    a, b = plain.build_model(), shifted.build_model()
    for (name, p), q in zip(a.backbone.state_dict().items(), b.backbone.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    only_rotated = load_task("digits-shift", None, {**options, "shift": "rotate"})
    assert torch.allclose(only_rotated.val.x, torch.rot90(plain.val.x, 1, dims=(2, 3)))


def test_an_unknown_shift_is_refused_with_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="shift must be one of rotate, invert, rotate\\+invert, got 'blur'"):
        load_task("digits-shift", None, {"shift": "blur", "pretrain_epochs": 1, "cache_dir": str(tmp_path)})
