"""Loading a study file: YAML and schema errors as the user sees them, durations, storage, the spec hash."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from lrsearch.config import load_spec, parse_duration, parse_spec, resolve_storage, spec_hash
from lrsearch.errors import LrsearchError, SpecError
from tests.config.builders import BASE, problem_at, problems, spec_data


def write(tmp_path: Path, text: str, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load_problems(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return info.value.problems


def test_base_spec_is_valid() -> None:
    spec = parse_spec(spec_data())
    assert spec.name == "t" and [g.name for g in spec.groups] == ["head", "backbone"]


# -- YAML -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("name: t\nbudget: {trials: 2, epochs: 2\ntask: {builtin: digits}\n", "line 3, column 5",
         "flow mapping started at line 2"),
        ("name: t\n  budget: 3\n", "line 2, column 9", "mapping values are not allowed here"),
        ("name: t\nbudget:\n\ttrials: 3\n", "line 3, column 1", "'\\t'"),
        ('name: "t\n', "line 2, column 1", "quoted scalar started at line 1"),
        ("name: t\nbudget: {epochs: 2}\nname: u\n", "line 3, column 1", "duplicate key 'name' (first at line 1)"),
    ],
    ids=["unclosed-brace", "bad-indent", "tab", "unclosed-quote", "duplicate-key"],
)
def test_yaml_errors_give_line_and_column(tmp_path: Path, text: str, where: str, what: str) -> None:
    [(path, message)] = load_problems(write(tmp_path, text))
    assert path == ""
    assert message.startswith(f"YAML syntax error at {where}: ")
    assert what in message


def test_yaml_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, (
        "name: t\nbudget: {trials: 2, epochs: 2}\ntask: {builtin: digits}\n"
        "groups:\n"
        "  - {name: head, params: [head.*], lr: &lr {low: 0.001, high: 0.1, log: true}}\n"
        "  - name: backbone\n    rest: true\n    lr:\n      <<: *lr\n      high: 0.01\n"
    )))
    assert (spec.groups[1].lr.low, spec.groups[1].lr.high, spec.groups[1].lr.log) == (0.001, 0.01, True)


@pytest.mark.parametrize(("text", "got"), [("- a\n- b\n", "list"), ("just text\n", "str")])
def test_spec_must_be_a_mapping(tmp_path: Path, text: str, got: str) -> None:
    [(_, message)] = load_problems(write(tmp_path, text))
    assert message == f"the spec must be a mapping of keys (name, budget, task, ...), got {got}"


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_empty_spec(tmp_path: Path, text: str) -> None:
    assert load_problems(write(tmp_path, text)) == [
        ("", "the spec is empty; it needs at least name, budget, task and groups")]


def test_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(LrsearchError, match="no such file"):
        load_spec(tmp_path / "nope.yaml")


# -- schema errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path", "suggestion"),
    [
        ({**BASE, "budgte": {}}, "budgte", "budget"),
        (spec_data(sampler={"name": "tpe", "sede": 1}), "sampler.sede", "seed"),
        (spec_data(groups=[{**BASE["groups"][0], "momentun": 0.9}, BASE["groups"][1]]), "groups[0].momentun",
         "momentum"),
        (spec_data(groups=[{**BASE["groups"][0], "lr": {"low": 0.1, "high": 1, "logg": True}}, BASE["groups"][1]]),
         "groups[0].lr.logg", "log"),
        (spec_data(schedule={"shape": "onecycle", "params": {"onecycle": {"pct_start": {"low": 0.1, "hihg": 0.3}}}}),
         "schedule.params.onecycle.pct_start.hihg", "high"),
        (spec_data(groups=None, optimizers={"gen": {"groups": BASE["groups"], "shedule": {}}}), "optimizers.gen.shedule",
         "schedule"),
    ],
    ids=["top", "sampler", "group", "dim", "shape-param", "named-optimizer"],
)
def test_unknown_key_suggests_the_close_match(data: dict, path: str, suggestion: str) -> None:
    message = problem_at(data, path)
    assert message.startswith(f"unknown key; did you mean {suggestion!r}? valid keys here: ")
    assert suggestion in message.split("valid keys here: ")[1].split(", ")


def test_unknown_key_without_a_close_match_lists_the_valid_ones() -> None:
    assert problem_at({**BASE, "zzz": 1}, "zzz") == (
        "unknown key; valid keys here: name, description, storage, objective, budget, sampler, pruner, confirm, "
        "search, task, optimizer, groups, schedule, optimizers, plugins, trackers"
    )


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        (spec_data(budget={"trials": "many", "epochs": 2}), "budget.trials", "must be a whole number, got 'many'"),
        (spec_data(budget={"trials": 2, "epochs": 2.5}), "budget.epochs", "must be a whole number, got 2.5"),
        (spec_data(budget={"trials": 0, "epochs": 2}), "budget.trials", "must be greater than or equal to 1, got 0"),
        (spec_data(budget=5), "budget", "must be a mapping of keys (trials, timeout, epochs, trial_timeout), got 5"),
        (spec_data(task="digits"), "task", "must be a mapping of keys (builtin, entrypoint, train, options, "
         "batch_size, eval_batch_size, device, seed, threads, model), got 'digits'"),
        (spec_data(groups={"name": "all", "rest": True, "lr": 0.1}), "groups", "must be a list, got a mapping"),
        (spec_data(groups=[5]), "groups[0]", "must be a mapping of keys (name, params, rest, layerwise, lr, "
         "momentum, beta1, beta2, weight_decay, freeze_epochs, schedule), got 5"),
        (spec_data(storage=5), "storage", "must be a string, got 5"),
        (spec_data(objective={"direction": "max"}), "objective.direction",
         "must be 'minimize' or 'maximize', got 'max'"),
        (spec_data(groups=[{"name": "a", "rest": True, "lr": {"low": 0.1, "high": 1, "log": "maybe"}}]),
         "groups[0].lr.log", "must be true or false, got 'maybe'"),
        (spec_data(task={"builtin": "digits", "device": "gpu"}), "task.device",
         "must be auto, cpu, cuda, cuda:N or mps, got 'gpu'"),
        (spec_data(task={"train": "not a ref"}), "task.train", "must look like 'package.module:function'"),
        (spec_data(budget={"epochs": 2}), "budget", "give trials, timeout, or both"),
        (spec_data(budget=None), "budget", "required"),
        (spec_data(groups=[{"name": "a", "lr": 0.1}]), "groups[0]", "give exactly one of params (patterns), rest (everything else) or layerwise; got none of them"),
        (spec_data(groups=[{"name": "a", "rest": True}]), "groups[0]", "lr is required"),
        (spec_data(groups=[{"name": "a.b", "rest": True, "lr": 0.1}]), "groups[0].name", "must be a plain identifier"),
    ],
)
def test_schema_errors_name_the_field_and_the_rule(data: dict, path: str, message: str) -> None:
    assert message in problem_at(data, path)


def test_a_dim_given_a_list_says_how_to_write_choices_or_a_range() -> None:
    data = spec_data(groups=[{"name": "all", "rest": True, "lr": [0.01, 0.1]}])
    assert problem_at(data, "groups[0].lr") == (
        "must be a number, got the list [0.01, 0.1]; write {choices: [0.01, 0.1]} to search among these values, "
        "or {low: ..., high: ...} for a range"
    )


def test_messages_carry_no_pydantic_internals() -> None:
    data = {
        "name": "t", "budget": 5, "task": "digits", "objective": {"direction": "up"}, "storage": [1],
        "sampler": {"seed": "x"}, "optimizer": {"options": 3},
        "groups": [{"name": "a", "params": 5, "lr": {"low": 1, "high": 0.1}, "weight_decay": [1]}, 7, {"lr": {}}],
    }
    found = problems(data)
    assert len(found) >= 8
    assert len(found) == len(set(found)), "no duplicates"
    for path, message in found:
        assert re.fullmatch(r"[\w-]+(\.[\w-]+|\[\d+\])*", path), (path, message)
        for internal in ("Input should", "instance of", "Value error", "valid dictionary", "pydantic"):
            assert internal not in message, (path, message)


def test_schema_and_cross_field_problems_are_reported_together() -> None:
    data = spec_data(
        optimizer={"name": "adamw", "option": {}},
        schedule={"shape": "cosin", "warmpu": 0.1},
        groups=[
            {"name": "head", "params": ["head.*"], "lr": 0.1, "momentum": 0.9},
            {"name": "backbone", "rest": True, "lr": {"ratio_of": "nope", "value": 0.5}},
        ],
    )
    paths = [path for path, _ in problems(data)]
    assert paths == ["optimizer.option", "schedule.warmpu", "groups[0].momentum", "schedule.shape",
                     "groups[1].lr.ratio_of"]


# -- durations, storage, hash -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(None, None), (90, 90.0), (1.5, 1.5), ("90", 90.0), ("90s", 90.0), ("45 sec", 45.0), ("30m", 1800.0),
     ("2min", 120.0), ("1.5h", 5400.0), ("1d", 86400.0), ("1h30m", 5400.0), ("1h 30m 15s", 5415.0),
     ("1d12h", 129600.0), ("2H", 7200.0)],
)
def test_parse_duration(value: object, seconds: float | None) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", [0, -5, "0s", "-1m", "ten minutes", "5x", True, "30m1h", "1h1h", "1h30", "1h-30m"])
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError, match="must be"):
        parse_duration(value)


def test_budget_durations_in_a_spec() -> None:
    spec = parse_spec(spec_data(budget={"timeout": "2h", "epochs": 3, "trial_timeout": "90s"}))
    assert (spec.budget.timeout, spec.budget.trial_timeout, spec.budget.trials) == (7200.0, 90.0, None)
    assert "must be a duration like 90, '90s', '30m' or '2h', got '5x'" in problem_at(
        spec_data(budget={"timeout": "5x", "epochs": 3}), "budget.timeout")


def test_default_storage_is_lrsearch_db_next_to_the_study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, yaml.safe_dump(spec_data()), "studies/s.yaml")
    monkeypatch.chdir(tmp_path)
    assert load_spec(Path("studies/s.yaml")).storage == f"sqlite:///{(tmp_path / 'studies' / 'lrsearch.db').as_posix()}"
    assert load_spec(path).storage == load_spec(Path("studies/s.yaml")).storage


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///runs/my.db", "sqlite:///{base}/runs/my.db"),
        ("sqlite:////abs/my.db", "sqlite:////abs/my.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_relative_sqlite_paths_are_relative_to_the_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    write(tmp_path, yaml.safe_dump(spec_data(storage=url)), "studies/s.yaml")
    monkeypatch.chdir(tmp_path)
    assert load_spec("studies/s.yaml").storage == expected.format(base=(tmp_path / "studies").as_posix())


def test_resolve_storage_without_a_study_uses_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_storage(None, None) == f"sqlite:///{tmp_path.as_posix()}/lrsearch.db"
    assert resolve_storage("sqlite:///x.db", tmp_path / "d") == f"sqlite:///{tmp_path.as_posix()}/d/x.db"


def test_spec_hash_ignores_budget_storage_and_description() -> None:
    base = spec_hash(parse_spec(spec_data()))
    for changed in (
        spec_data(budget={"trials": 100, "timeout": "3h", "epochs": 3}),
        spec_data(storage="sqlite:////elsewhere.db"),
        spec_data(description="a note"),
        spec_data(confirm={"top": 5, "seeds": 2}),
        spec_data(sampler={"name": "random", "seed": 7}),
        spec_data(pruner={"name": "none"}),
    ):
        assert spec_hash(parse_spec(changed)) == base
    moved = spec_data()
    moved["task"] = {**moved["task"], "device": "cuda:0", "threads": 4}
    assert spec_hash(parse_spec(moved)) == base


def test_spec_hash_changes_with_the_search_space() -> None:
    base = spec_hash(parse_spec(spec_data()))
    wider = spec_data()
    wider["groups"][0]["lr"]["high"] = 1.0
    assert spec_hash(parse_spec(wider)) != base
    # epochs define the schedules' time axis, so trials with other epochs are not comparable
    assert spec_hash(parse_spec(spec_data(budget={"trials": 4, "epochs": 5}))) != base
