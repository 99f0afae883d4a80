"""The plain-PyTorch snippet: the same groups and, at every step, the same lr / momentum / weight decay as lrsearch."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from lrsearch.api import example_config
from lrsearch.config import parse_spec
from lrsearch.results import curves_frame, open_readonly, pytorch_snippet, trials_frame
from lrsearch.results._source import trial_config
from lrsearch.schedules import shape_names
from lrsearch.space import TrialConfig
from lrsearch.tasks import load_task
from lrsearch.training import TrialContext
from tests.conftest import run_cli
from tests.groups.models import TinyTransformer
from tests.results.conftest import Studies


def load_snippet(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def values_of(optimizer: torch.optim.Optimizer) -> list[tuple[Any, ...]]:
    """What each group holds now: name, members, lr, momentum or betas, weight decay."""
    out = []
    for g in optimizer.param_groups:
        out.append((g["name"], tuple(g["param_names"]), g["lr"], g.get("momentum"), g.get("betas"),
                    g["weight_decay"]))
    return out


def step_both(config: TrialConfig, make_model: Any, snippet: ModuleType, steps_per_epoch: int,
              key: str | None = None) -> list[list[tuple[Any, ...]]]:
    """Drive lrsearch's optimizer + GroupScheduler and the snippet's optimizer + LambdaLR side by side through a
    whole run (no gradients: the values do not depend on them) and assert that they agree at every step and
    freeze the same groups in every epoch. Returns the snippet's values after each epoch's last step."""
    ctx = TrialContext(config=config, objective="val_accuracy")
    ours_model, their_model = make_model(), make_model()
    ours = ctx.optimizer(ours_model) if key is None else ctx.optimizer(key, ours_model)
    ours_sched = ctx.scheduler(ours, steps_per_epoch)
    theirs = snippet.build_optimizer(their_model, key)
    their_sched = snippet.build_scheduler(theirs, steps_per_epoch, key)
    assert type(theirs) is type(ours)
    assert isinstance(their_sched, torch.optim.lr_scheduler.LambdaLR)
    if hasattr(theirs, "train"):  # schedule-free: steps only in train mode, as the usage example says
        ours.train()
        theirs.train()
    per_epoch = []
    assert values_of(theirs) == values_of(ours), "step 0"
    for epoch in range(config.epochs):
        ctx.freeze(epoch + 1)
        frozen = snippet.set_frozen(theirs, epoch + 1)
        assert frozen == [g["name"] for g in ours.param_groups if not any(p.requires_grad for p in g["params"])]
        for step in range(1, steps_per_epoch + 1):
            ours.step()
            ours_sched.step()
            theirs.step()
            their_sched.step()
            assert values_of(theirs) == values_of(ours), f"epoch {epoch + 1}, step {step}"
        per_epoch.append(values_of(theirs))
    return per_epoch


def digits_model() -> torch.nn.Module:
    return load_task("digits", None, {}).build_model()


@pytest.mark.slow
def test_snippet_matches_every_recorded_trial_step_by_step(studies: Studies, tmp_path: Path) -> None:
    """For every trial of both studies: per step equal to GroupScheduler, per epoch equal to the recorded rows."""
    curves = curves_frame(studies.url)
    trials = trials_frame(studies.url)
    checked = 0
    for row in trials[trials["state"].isin(["COMPLETE", "PRUNED"])].itertuples():
        handle = open_readonly(studies.url, row.study)
        config, _ = trial_config(handle, row.number)
        mine = curves[(curves["study"] == row.study) & (curves["trial"] == row.number)]
        steps_per_epoch = int(mine["step"].iloc[0])  # steps after epoch 1
        path = tmp_path / f"{row.study}_{row.number}.py"
        path.write_text(pytorch_snippet(config, title="test", steps_per_epoch=steps_per_epoch))
        per_epoch = step_both(config, digits_model, load_snippet(path), steps_per_epoch)
        for epoch, rows in mine.groupby("epoch"):
            recorded = {r.group: r for r in rows.itertuples()}
            snippet_values = {name: (lr, momentum, betas, wd) for name, _, lr, momentum, betas, wd in per_epoch[epoch - 1]}
            assert set(recorded) == set(snippet_values)
            for name, (lr, momentum, betas, wd) in snippet_values.items():
                r = recorded[name]
                assert lr == r.lr and wd == r.weight_decay, (row.study, row.number, epoch, name)
                assert (betas[0] if betas else momentum) == r.momentum
                checked += 1
    assert checked >= 100


@pytest.mark.slow
def test_snippet_runs_without_lrsearch_and_prints_the_recorded_lrs(studies: Studies, tmp_path: Path) -> None:
    snippet = tmp_path / "best_alpha.py"
    out = run_cli("best", str(studies.alpha), "--by", "search", "--python", str(snippet), check=True).stdout
    number = int(re.search(r"trial #(\d+) \(best search score\)", out).group(1))
    text = snippet.read_text()
    assert not re.search(r"^\s*(import|from)\s+lrsearch", text, re.MULTILINE)
    blocked = "import sys; sys.modules['lrsearch'] = None; import runpy; runpy.run_path(sys.argv[1], run_name='__main__')"
    proc = subprocess.run([sys.executable, "-c", blocked, str(snippet)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    curves = curves_frame(studies.url, "alpha")
    mine = curves[curves["trial"] == number]
    for group in ("head", "backbone"):
        for epoch in (1, 2, 3):
            lr = mine[(mine["group"] == group) & (mine["epoch"] == epoch)]["lr"].iloc[0]
            assert f"epoch {epoch}: lr {lr:.6g}" in proc.stdout.split(f"  {group} (")[1], (group, epoch)


def shapes_spec(shape: str, variant: str) -> dict[str, Any]:
    """A transformer with a layer-wise group, a rest group with freezing, and every no-decay rule."""
    sgd = variant == "sgd-step"
    return {
        "name": "shapes",
        "budget": {"trials": 1, "epochs": 4},
        "task": {"builtin": "digits"},
        "optimizer": {"name": "sgd" if sgd else "adamw", "options": {"nesterov": True} if sgd else {},
                      "weight_decay_exclude": ["bias", "norm", "embedding", "pos"]},
        "groups": [
            {"name": "head", "params": ["head.*", "re:norm\\..*"], "lr": {"low": 1e-3, "high": 1e-1, "log": True},
             "weight_decay": 0.01, **({"momentum": {"low": 0.8, "high": 0.95}} if sgd else {"beta1": 0.85})},
            {"name": "layers", "layerwise": {"pattern": r"encoder\.layers\.(\d+)\..*", "decay": {"low": 0.5, "high": 0.9}},
             "lr": {"ratio_of": "head", "low": 0.2, "high": 1.0}, "weight_decay": 0.05},
            {"name": "rest", "rest": True, "lr": 3e-3, "freeze_epochs": 2, "weight_decay": 0.02},
        ],
        "schedule": {"shape": shape, "warmup": 0.15 if sgd else 0.0, "warmup_start_factor": 0.1,
                     "granularity": "step" if sgd else "epoch", "momentum": "inverse" if sgd else "constant",
                     "weight_decay": "follow_lr" if sgd else "cosine", "weight_decay_end_factor": 0.1,
                     "per_group": True},
    }


@pytest.mark.parametrize("variant", ["sgd-step", "adamw-epoch"])
@pytest.mark.parametrize("shape", shape_names())
def test_every_shape_layerwise_rest_freeze_and_no_decay(shape: str, variant: str, tmp_path: Path) -> None:
    config = example_config(parse_spec(shapes_spec(shape, variant)), seed=len(shape))
    path = tmp_path / "snippet.py"
    path.write_text(pytorch_snippet(config, title="test", steps_per_epoch=5))
    snippet = load_snippet(path)
    per_epoch = step_both(config, TinyTransformer, snippet, steps_per_epoch=5)
    names = [name for name, *_ in per_epoch[0]]
    assert names[:2] == ["head", "head.no_decay"] and "layers.0" in names and "layers.3.no_decay" in names
    assert names[-1] == "rest.no_decay", "embedding, pos and the final norm are excluded from weight decay"
    peak = {g["name"]: g["lr"] for g in snippet.param_groups(TinyTransformer())}
    assert peak["layers.0"] < peak["layers.1"] < peak["layers.3"] < peak["head"], "lower layers get a smaller lr"
    assert all(math.isfinite(v[2]) for epoch in per_epoch for v in epoch)


def test_two_optimizers(tmp_path: Path) -> None:
    spec = {
        "name": "gan", "budget": {"trials": 1, "epochs": 2}, "task": {"train": "tests.results.own_loop:train"},
        "optimizers": {
            "generator": {"name": "adam", "groups": [{"name": "g", "rest": True, "lr": {"low": 1e-4, "high": 1e-2}}],
                          "schedule": {"shape": "onecycle"}},
            "critic": {"name": "rmsprop", "groups": [{"name": "c", "rest": True, "lr": 1e-3, "momentum": 0.5}],
                       "schedule": {"shape": "cosine", "warmup": 0.2}},
        },
    }
    config = example_config(parse_spec(spec))
    path = tmp_path / "gan.py"
    path.write_text(pytorch_snippet(config, title="test", steps_per_epoch=4))
    snippet = load_snippet(path)
    step_both(config, lambda: torch.nn.Linear(3, 2), snippet, 4, key="generator")
    step_both(config, lambda: torch.nn.Linear(3, 2), snippet, 4, key="critic")
    with pytest.raises(ValueError, match="several optimizers"):
        snippet.build_optimizer(torch.nn.Linear(3, 2))


def test_a_third_party_optimizer_by_import_path(tmp_path: Path) -> None:
    pytest.importorskip("lion_pytorch", reason="the third-party optimizer of this test (lion-pytorch)")
    spec = {
        "name": "lion", "budget": {"trials": 1, "epochs": 3}, "task": {"builtin": "digits"},
        "optimizer": {"name": "lion_pytorch:Lion"},
        "groups": [{"name": "head", "params": ["head.*"], "lr": 1e-3, "beta1": 0.95},
                   {"name": "rest", "rest": True, "lr": 3e-4, "freeze_epochs": 1}],
        "schedule": {"shape": "onecycle"},  # moves beta1 inversely to the lr
    }
    config = example_config(parse_spec(spec))
    path = tmp_path / "lion_trial.py"
    path.write_text(pytorch_snippet(config, title="test", steps_per_epoch=4))
    snippet = load_snippet(path)
    step_both(config, digits_model, snippet, 4)
    assert type(snippet.build_optimizer(digits_model())).__module__ == "lion_pytorch.lion_pytorch"


@pytest.mark.parametrize("epoch", [0, -1])
def test_the_snippet_s_epochs_count_from_1(tmp_path: Path, epoch: int) -> None:
    config = example_config(parse_spec(shapes_spec("cosine", "sgd-step")))
    path = tmp_path / "snippet.py"
    path.write_text(pytorch_snippet(config, title="test", steps_per_epoch=5))
    snippet = load_snippet(path)
    assert "for epoch in range(1, EPOCHS + 1):" in snippet.__doc__
    with pytest.raises(ValueError, match=r"epochs count from 1 \(for epoch in range\(1, EPOCHS \+ 1\)\)"):
        snippet.set_frozen(snippet.build_optimizer(TinyTransformer()), epoch)


@pytest.mark.parametrize("name", ["adamw_schedulefree", "sgd_schedulefree"])
def test_a_schedule_free_optimizer_is_imported_from_its_package(name: str, tmp_path: Path) -> None:
    schedulefree = pytest.importorskip("schedulefree")
    spec = {
        "name": "sf", "budget": {"trials": 1, "epochs": 3}, "task": {"builtin": "digits"},
        "optimizer": {"name": name},
        "groups": [{"name": "head", "params": ["head.*"], "lr": 3e-3, "weight_decay": 0.01},
                   {"name": "rest", "rest": True, "lr": 1e-3, "freeze_epochs": 1}],
    }
    config = example_config(parse_spec(spec))
    path = tmp_path / "sf_trial.py"
    text = pytorch_snippet(config, title="test", steps_per_epoch=4)
    assert "schedulefree:" in text and "optimizer.train()" in text and "optimizer.eval()" in text
    path.write_text(text)
    snippet = load_snippet(path)
    step_both(config, digits_model, snippet, 4)
    expected = schedulefree.AdamWScheduleFree if name == "adamw_schedulefree" else schedulefree.SGDScheduleFree
    assert type(snippet.build_optimizer(digits_model())) is expected


@pytest.mark.slow
def test_best_writes_every_file_of_a_schedule_free_trial_or_none(tmp_path: Path) -> None:
    pytest.importorskip("schedulefree")
    spec = {
        "name": "silent", "storage": "sqlite:///silent.db", "budget": {"trials": 1, "epochs": 1},
        "task": {"builtin": "digits", "device": "cpu", "threads": 1},
        "groups": [{"name": "head", "params": ["head.*"], "lr": {"low": 1e-3, "high": 1e-2, "log": True}},
                   {"name": "rest", "rest": True, "lr": 1e-3}],
    }  # the optimizer left to the default: schedule-free AdamW
    study = tmp_path / "silent.yaml"
    study.write_text(json.dumps(spec))
    run_cli("run", str(study), "--quiet", check=True, cwd=tmp_path)
    done = run_cli("best", str(study), "-o", "best.yaml", "--python", "best.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "wrote best.py" in done.stdout and "wrote best.yaml" in done.stdout
    blocked = "import sys; sys.modules['lrsearch'] = None; import runpy; runpy.run_path(sys.argv[1], run_name='__main__')"
    proc = subprocess.run([sys.executable, "-c", blocked, "best.py"], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "optimizer main: schedulefree:AdamWScheduleFree" in proc.stdout
    refused = run_cli("best", str(study), "-o", "other.yaml", "--keras", "keras_trial.py", cwd=tmp_path)
    assert refused.returncode == 2 and "adamw_schedulefree" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "other.yaml").exists() and not (tmp_path / "keras_trial.py").exists()
