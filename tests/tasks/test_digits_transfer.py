from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lrsearch.errors import TaskError
from lrsearch.tasks import load_task
from lrsearch.tasks._digits import DigitsCNN
from lrsearch.tasks._digits_transfer import digits_transfer
from lrsearch.tasks._fit import evaluate_accuracy, fit


def test_backbone_is_pretrained_once_then_read_from_the_cache(tmp_path: Path) -> None:
    first = digits_transfer(cache_dir=str(tmp_path), pretrain_epochs=5)
    assert first.info["pretrain"]["from_cache"] is False
    files = list(tmp_path.iterdir())
    assert [f.name for f in files] == [Path(first.info["pretrain"]["path"]).name]  # no temp file left behind
    mtime = files[0].stat().st_mtime_ns

    second = digits_transfer(cache_dir=str(tmp_path), pretrain_epochs=5)
    assert second.info["pretrain"]["from_cache"] is True
    assert files[0].stat().st_mtime_ns == mtime
    assert second.info["pretrain"]["val_accuracy"] == first.info["pretrain"]["val_accuracy"]

    digits_transfer(cache_dir=str(tmp_path), pretrain_epochs=6)  # other settings, other file
    assert len(list(tmp_path.iterdir())) == 2


def test_cache_dir_defaults_to_the_environment(shared_cache_dir: Path) -> None:
    task = load_task("digits-transfer")
    assert Path(task.info["pretrain"]["path"]).parent == shared_cache_dir


def test_unreadable_cache_entry_is_rebuilt(tmp_path: Path) -> None:
    path = Path(digits_transfer(cache_dir=str(tmp_path), pretrain_epochs=5).info["pretrain"]["path"])
    path.write_bytes(b"not a checkpoint")
    again = digits_transfer(cache_dir=str(tmp_path), pretrain_epochs=5)
    assert again.info["pretrain"]["from_cache"] is False
    assert digits_transfer(cache_dir=str(tmp_path), pretrain_epochs=5).info["pretrain"]["from_cache"] is True


def test_unwritable_cache_dir_says_how_to_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TaskError, match="set task.options.cache_dir or \\$LRSEARCH_CACHE_DIR"):
        digits_transfer(cache_dir=str(blocker / "sub"), pretrain_epochs=1)


def test_new_head_on_the_cached_backbone() -> None:
    task = load_task("digits-transfer")
    cached = torch.load(task.info["pretrain"]["path"], weights_only=True)["backbone"]
    torch.manual_seed(0)
    model = task.build_model()
    assert model.head.out_features == 5
    for name, value in model.backbone.state_dict().items():
        assert torch.equal(value, cached[name]), name
    torch.manual_seed(1)
    other = task.build_model()
    assert not torch.equal(model.head.weight, other.head.weight)  # the head is fresh, from the caller's seed
    assert torch.equal(model.backbone.conv1.weight, other.backbone.conv1.weight)


def test_fine_tune_split_holds_digits_5_to_9_only() -> None:
    task = load_task("digits-transfer", options={"labels_per_class": 10})
    assert task.info["sizes"]["train"] == 50
    assert torch.bincount(task.train.y).tolist() == [10] * 5
    for split in (task.val, task.test):
        assert split.y.min() == 0 and split.y.max() == 4 and len(split) > 400
    # Digits 5-9 are relabelled 0-4; the pretraining classes 0-4 are never in the task.
    assert task.info["pretrain"]["train_size"] < 600


def test_fine_tuning_beats_training_from_scratch() -> None:
    """The transfer is real: same architecture, same recipe, 10 labels per class, a trial-sized budget."""
    task = load_task("digits-transfer")
    pretrained, scratch = [], []
    for seed in range(3):
        torch.manual_seed(seed)
        model = task.build_model()
        fit(model, task.train, epochs=10, lr=0.03, seed=seed)
        pretrained.append(evaluate_accuracy(model, task.val))
        torch.manual_seed(seed)
        model = DigitsCNN(width=16, num_classes=5)
        fit(model, task.train, epochs=10, lr=0.03, seed=seed)
        scratch.append(evaluate_accuracy(model, task.val))
    assert sum(pretrained) / 3 > sum(scratch) / 3 + 0.05, (pretrained, scratch)


@pytest.mark.slow
def test_workers_racing_on_a_cold_cache_all_get_a_whole_file(tmp_path: Path) -> None:
    """Two processes pretrain at once; each renames a complete file into place, and both can read the result."""
    import subprocess
    import sys

    code = (
        "from lrsearch.tasks._digits_transfer import digits_transfer; "
        f"t = digits_transfer(cache_dir={str(tmp_path)!r}, pretrain_epochs=20); print(t.info['pretrain']['path'])"
    )
    root = Path(__file__).resolve().parents[2]
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=root, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    # The timeout only guards against a deadlock: two pretrainings on a loaded machine can take minutes.
    paths = {proc.communicate(timeout=1200)[0].strip() for proc in procs}
    assert [proc.returncode for proc in procs] == [0, 0]
    assert len(paths) == 1 and [p.name for p in tmp_path.iterdir()] == [Path(paths.pop()).name]
    assert digits_transfer(cache_dir=str(tmp_path), pretrain_epochs=20).info["pretrain"]["from_cache"] is True
