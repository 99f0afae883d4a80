"""Tasks: a model factory plus data splits, builtin ones by name and user ones by ``package.module:function``.

Builtin tasks: ``digits`` (seconds on CPU), ``digits-transfer`` (a cached pretrained backbone, few labels) and
``fashion-effnet`` (ImageNet-pretrained EfficientNet-Lite0 on Fashion-MNIST; needs ``lrsearch[effnet]``).
"""

from lrsearch.tasks._base import Data, Split, Task, accuracy, cross_entropy
from lrsearch.tasks._registry import (
    TaskEntry,
    builtin_task,
    builtin_task_names,
    call_user_code,
    check_allowed,
    check_entrypoint,
    check_spec_modules,
    clear_task_cache,
    describe_tasks,
    load_entrypoint,
    load_task,
    register_task,
)

# Builtin tasks register themselves on import; their heavy dependencies load only when a task is built.
from lrsearch.tasks import _digits, _digits_transfer, _fashion  # noqa: E402, F401, I001  isort: skip
from lrsearch.tasks import _digits_transformer  # noqa: E402, F401, I001  isort: skip
from lrsearch.tasks import _digits_shift  # noqa: E402, F401, I001  isort: skip
from lrsearch.tasks import _keras_digits_transfer  # noqa: E402, F401, I001  isort: skip

__all__ = [
    "Data",
    "Split",
    "Task",
    "TaskEntry",
    "accuracy",
    "builtin_task",
    "builtin_task_names",
    "call_user_code",
    "check_allowed",
    "check_entrypoint",
    "check_spec_modules",
    "clear_task_cache",
    "cross_entropy",
    "describe_tasks",
    "load_entrypoint",
    "load_task",
    "register_task",
]
