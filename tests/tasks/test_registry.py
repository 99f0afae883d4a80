from __future__ import annotations

import pytest
import torch

from lrsearch.errors import TaskError
from lrsearch.tasks import builtin_task_names, check_entrypoint, describe_tasks, load_task
from tests.tasks import sample_task

SAMPLE = "tests.tasks.sample_task"


def test_builtins_are_registered() -> None:
    assert builtin_task_names() == ["digits", "digits-shift", "digits-transfer", "digits-transformer", "fashion-effnet",
                                    "keras-digits-transfer"]


def test_unknown_builtin_lists_the_known_ones() -> None:
    with pytest.raises(TaskError, match="unknown task 'digitz'; builtin tasks: digits, digits-shift, digits-transfer, digits-transformer, fashion-effnet"):
        load_task("digitz")


def test_exactly_one_source() -> None:
    with pytest.raises(TaskError, match="exactly one of task.builtin or task.entrypoint"):
        load_task()
    with pytest.raises(TaskError, match="exactly one of task.builtin or task.entrypoint"):
        load_task("digits", f"{SAMPLE}:build")


def test_entrypoint_loads_with_options() -> None:
    task = load_task(entrypoint=f"{SAMPLE}:build", options={"size": 30, "hidden": 4})
    assert task.name == "sample" and task.info == {"size": 30, "hidden": 4}
    assert len(task.train) == 10
    model = task.build_model()
    assert model(task.train.x).shape == (10, 10)
    assert isinstance(task.test, torch.utils.data.Dataset) and len(task.test) == 10


def test_same_name_and_options_return_the_same_task() -> None:
    before = sample_task.BUILDS["count"]
    first = load_task(entrypoint=f"{SAMPLE}:build", options={"size": 30})
    assert load_task(entrypoint=f"{SAMPLE}:build", options={"size": 30}) is first
    assert load_task(entrypoint=f"{SAMPLE}:build", options={"size": 45}) is not first
    assert sample_task.BUILDS["count"] == before + 2
    # Models are not cached: every call builds a fresh one.
    assert first.build_model() is not first.build_model()


def test_builtin_tasks_are_cached_too() -> None:
    assert load_task("digits") is load_task("digits", options={})
    assert load_task("digits", options={"width": 8}) is not load_task("digits")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("tests.tasks.no_such_module:build", "cannot import 'tests.tasks.no_such_module': No module named"),
        ("tests.tasks.broken_task:build", "No module named 'lrsearch_no_such_dependency'"),
        (f"{SAMPLE}:bulid", "module 'tests.tasks.sample_task' has no attribute 'bulid'; callables there: .*build"),
        (f"{SAMPLE}:NOT_CALLABLE", "'NOT_CALLABLE' is a int, not a function"),
        ("tests.tasks.sample_task.build", "must look like 'package.module:function'"),
    ],
)
def test_bad_entrypoints_say_why(ref: str, message: str) -> None:
    with pytest.raises(TaskError, match=message):
        load_task(entrypoint=ref)
    reason = check_entrypoint(ref)
    assert reason is not None and reason.startswith("task.entrypoint")


def test_check_entrypoint_accepts_a_callable_without_calling_it() -> None:
    before = sample_task.BUILDS["count"]
    assert check_entrypoint(f"{SAMPLE}:build") is None
    assert check_entrypoint(f"{SAMPLE}:build", field="task.train") is None
    assert sample_task.BUILDS["count"] == before
    assert check_entrypoint("nope:f", field="task.train").startswith("task.train 'nope:f'")


def test_entrypoint_must_return_a_task() -> None:
    with pytest.raises(TaskError, match="returned int, not an lrsearch.tasks.Task"):
        load_task(entrypoint=f"{SAMPLE}:not_a_task")


def test_unknown_option_lists_the_accepted_ones() -> None:
    with pytest.raises(TaskError, match=r"does not accept option\(s\) sise in task.options; accepted options: "
                                        r"size \(default 60\), hidden \(default 8\)"):
        load_task(entrypoint=f"{SAMPLE}:build", options={"sise": 3})
    with pytest.raises(TaskError, match=r"task 'digits' does not accept option\(s\) depth.*width \(default 16\)"):
        load_task("digits", options={"depth": 3})


def test_missing_required_option_is_named() -> None:
    with pytest.raises(TaskError, match=r"needs option\(s\) size in task.options"):
        load_task(entrypoint=f"{SAMPLE}:needs_size")


def test_factories_taking_kwargs_get_any_option() -> None:
    assert load_task(entrypoint=f"{SAMPLE}:build_anything", options={"size": 30, "extra": 1}).info["size"] == 30


def test_builtin_options_are_type_checked() -> None:
    with pytest.raises(TaskError, match="task 'digits': task.options.width must be an integer, got '16'"):
        load_task("digits", options={"width": "16"})


def test_describe_tasks_lists_options_with_defaults() -> None:
    text = describe_tasks()
    assert "digits-transfer: " in text
    assert "    labels_per_class (default 10): " in text
    assert "    data_dir (default '/usr/share/datasets/fashion-mnist'): " in text
