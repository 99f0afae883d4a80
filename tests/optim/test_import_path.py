"""Optimizers named by import path (a real third-party optimizer: lion-pytorch's Lion) and by plugins."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import torch

from lrsearch.cli import main
from lrsearch.config import parse_spec
from lrsearch.errors import LrsearchError, SpecError
from lrsearch.optim import capabilities, get_optimizer_info
from lrsearch.space import SearchSpace
from lrsearch.training import TrialContext
from tests.config.builders import spec_data
from tests.conftest import ROOT, run_cli, write_spec

lion_pytorch = pytest.importorskip("lion_pytorch", reason="the third-party optimizer of these tests (lion-pytorch)")


def test_capabilities_are_read_from_the_constructor() -> None:
    info = get_optimizer_info("lion_pytorch:Lion")
    assert info.cls is lion_pytorch.Lion
    assert (info.has_momentum, info.has_betas) == (False, True)
    assert info.options == {"use_triton", "decoupled_weight_decay"}
    assert capabilities(info) == ("lion_pytorch:Lion (lion_pytorch.lion_pytorch.Lion): momentum no, betas yes; "
                                  "options decoupled_weight_decay=False, use_triton=False")
    sgd = get_optimizer_info("torch.optim:SGD")  # any torch class works by path too
    assert (sgd.has_momentum, sgd.has_betas) == (True, False)


def _lion_spec(**group: object) -> dict:
    data = spec_data(optimizer={"name": "lion_pytorch:Lion", "options": {"decoupled_weight_decay": True}})
    data["groups"][0].update(group)
    return data


def test_a_study_builds_the_third_party_optimizer_with_its_own_defaults() -> None:
    spec = parse_spec(_lion_spec(beta1={"low": 0.8, "high": 0.9}))
    config = SearchSpace(spec).sample(optuna.create_study().ask())
    model = torch.nn.Sequential()
    model.add_module("backbone", torch.nn.Linear(4, 4))
    model.add_module("head", torch.nn.Linear(4, 2))
    opt = TrialContext(config=config, objective="val_accuracy").optimizer(model)
    assert isinstance(opt, lion_pytorch.Lion)
    assert opt.decoupled_wd is True  # the option reached the constructor
    by_name = {g["name"]: g for g in opt.param_groups}
    assert 0.8 <= by_name["head"]["betas"][0] <= 0.9 and by_name["head"]["betas"][1] == 0.99
    assert by_name["backbone"]["betas"] == (0.9, 0.99)  # Lion's default, not Adam's (0.9, 0.999)
    before = model.head.weight.detach().clone()
    model(torch.randn(3, 4)).sum().backward()
    opt.step()
    assert not torch.equal(before, model.head.weight)


@pytest.mark.parametrize(("name", "message"), [
    ("lion_pytorch:Nope", "optimizer 'lion_pytorch:Nope': 'lion_pytorch' has no attribute 'Nope'"),
    ("no_such_package_xyz:Opt", "optimizer 'no_such_package_xyz:Opt': cannot import 'no_such_package_xyz'"),
    ("torch.nn:Linear", "optimizer 'torch.nn:Linear' is Linear, not a torch.optim.Optimizer subclass"),
])
def test_a_bad_import_path_is_a_spec_problem_at_the_optimizer_name(name: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(spec_data(optimizer={"name": name}))
    [(path, problem)] = info.value.problems
    assert path == "optimizer.name" and message in problem
    with pytest.raises(LrsearchError, match="not a torch.optim.Optimizer subclass"):
        get_optimizer_info("torch.nn:Linear")


def test_settings_the_optimizer_cannot_take_are_refused_by_field() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(_lion_spec(momentum=0.9))
    assert info.value.problems == [("groups[0].momentum", "none of the optimizers (lion_pytorch:Lion) has momentum; "
                                    "use beta1 for Adam-type optimizers, or add sgd/rmsprop")]
    with pytest.raises(SpecError, match="optimizer 'lion_pytorch:Lion' has no option 'nesterov'"):
        parse_spec(spec_data(optimizer={"name": "lion_pytorch:Lion", "options": {"nesterov": True}}))


@pytest.mark.slow
def test_validate_imports_plugins_first_and_states_each_optimizer_s_capabilities(tmp_path: Path) -> None:
    data = spec_data(optimizer={"name": {"choices": ["lion", "sgd"]}})
    data["plugins"] = ["tests.fixtures_tasks.lion_plugin"]
    # A fresh process: the plugin's registration must come from the spec's plugins list, not from an earlier import.
    ok = run_cli("validate", str(write_spec(tmp_path, data)), cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    assert "  optimizer lion (lion_pytorch.lion_pytorch.Lion): momentum no, betas yes; options " in ok.stdout
    assert "  optimizer sgd (torch.optim.sgd.SGD): momentum yes, betas no; options " in ok.stdout
    assert "  plugins imported: tests.fixtures_tasks.lion_plugin" in ok.stdout


def test_a_plugin_that_does_not_import_is_a_spec_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = spec_data(plugins=["tests.fixtures_tasks.no_such_plugin"])
    assert main(["validate", str(write_spec(tmp_path, data))]) == 2
    assert ("  plugins[0]: cannot import plugin 'tests.fixtures_tasks.no_such_plugin': ModuleNotFoundError: "
            "No module named 'tests.fixtures_tasks.no_such_plugin'") in capsys.readouterr().err
