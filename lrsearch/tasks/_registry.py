"""Finding tasks by name: builtin tasks register here; user tasks are named by a ``package.module:function``.

:func:`load_task` caches per process: a worker runs many trials, and its data should load once, not once a trial.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lrsearch.errors import TaskError
from lrsearch.tasks._base import Task

TaskFactory = Callable[..., Task]


@dataclass(frozen=True)
class TaskEntry:
    """A builtin task: its factory, a one-line description and one line of documentation per option."""

    name: str
    factory: TaskFactory
    description: str
    options: dict[str, str]

    def defaults(self) -> dict[str, Any]:
        return {
            name: param.default
            for name, param in inspect.signature(self.factory).parameters.items()
            if param.default is not inspect.Parameter.empty
        }


_BUILTINS: dict[str, TaskEntry] = {}
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # lrsearch's own frames
_LOADED: dict[tuple[str, str, str], Task] = {}


def register_task(name: str, factory: TaskFactory, description: str, options: dict[str, str]) -> None:
    """Make ``factory(**options) -> Task`` loadable as ``task.builtin: <name>``.

    ``options`` documents every keyword the factory takes (its defaults come from the signature).
    """
    params = [
        p.name for p in inspect.signature(factory).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if sorted(params) != sorted(options):
        raise ValueError(f"task {name!r}: options documented {sorted(options)} differ from the factory's {sorted(params)}")
    if name in _BUILTINS:
        raise ValueError(f"task {name!r} is already registered")
    _BUILTINS[name] = TaskEntry(name, factory, description, dict(options))


def builtin_task_names() -> list[str]:
    return sorted(_BUILTINS)


def builtin_task(name: str) -> TaskEntry:
    if name not in _BUILTINS:
        raise TaskError(f"task.builtin: unknown task {name!r}; builtin tasks: {', '.join(builtin_task_names())}")
    return _BUILTINS[name]


def load_task(builtin: str | None = None, entrypoint: str | None = None, options: dict[str, Any] | None = None) -> Task:
    """The task named by ``builtin`` or ``entrypoint`` (exactly one), built with ``options``.

    The same (name, options) returns the same :class:`Task` object for the life of the process.

    Raises:
        TaskError: Unknown builtin, an entrypoint that cannot be imported or does not return a ``Task``, or an
            option the factory does not accept.
    """
    if (builtin is None) == (entrypoint is None):
        raise TaskError(f"give exactly one of task.builtin or task.entrypoint, got {builtin=} and {entrypoint=}")
    options = dict(options or {})
    kind, ref = ("builtin", builtin) if builtin is not None else ("entrypoint", entrypoint)
    assert ref is not None
    key = (kind, ref, _options_key(options))
    if key in _LOADED:
        return _LOADED[key]

    if builtin is not None:
        factory = builtin_task(builtin).factory
        where = f"task {builtin!r}"
    else:
        factory = _resolve(ref, "task.entrypoint")
        where = f"task.entrypoint {ref!r}"
    _check_options(factory, options, where)
    task = call_user_code(f"{where}: building the task", lambda: factory(**options))
    if not isinstance(task, Task):
        raise TaskError(
            f"{where} returned {type(task).__name__}, not an lrsearch.tasks.Task; "
            "return Task(name=..., build_model=..., train=..., val=..., test=...)"
        )
    _LOADED[key] = task
    return task


def clear_task_cache() -> None:
    """Forget loaded tasks, so the next :func:`load_task` builds them again (tests; long-lived notebooks)."""
    _LOADED.clear()


def check_entrypoint(ref: str, field: str = "task.entrypoint") -> str | None:
    """Why ``ref`` ("package.module:function") cannot be called, or None if it imports and names a callable.

    Imports the module but calls nothing: cheap enough for spec validation.
    """
    try:
        _resolve(ref, field)
    except TaskError as exc:
        return str(exc)
    return None


def load_entrypoint(ref: str, field: str = "task.train") -> Callable[..., Any]:
    """Import ``package.module:function`` (a user's own training function) and return it."""
    return _resolve(ref, field)


def describe_tasks() -> str:
    """The builtin tasks, their descriptions and options with defaults, for ``lrsearch tasks``."""
    lines = []
    for name in builtin_task_names():
        entry = _BUILTINS[name]
        defaults = entry.defaults()
        lines.append(f"{name}: {entry.description}")
        for option, doc in entry.options.items():
            default = f" (default {defaults[option]!r})" if option in defaults else " (required)"
            lines.append(f"    {option}{default}: {doc}")
    return "\n".join(lines)


def _options_key(options: dict[str, Any]) -> str:
    return json.dumps(options, sort_keys=True, default=repr)


def _resolve(ref: str, field: str) -> Callable[..., Any]:
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise TaskError(f"{field} must look like 'package.module:function', got {ref!r}")
    check_allowed(module_name, f"{field} {ref!r}")
    # Console scripts do not put the working directory on sys.path; users expect their own modules to import
    # from where they run lrsearch, as they do with `python -m`. Appended, so it never shadows installed packages.
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):  # the module itself (or its package) is not there
            raise TaskError(f"{field} {ref!r}: cannot import {module_name!r}: {exc}") from None
        raise TaskError(f"{field} {ref!r}: importing {module_name!r} failed: {_describe(exc)}") from None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise TaskError(f"{field} {ref!r}: importing {module_name!r} failed: {_describe(exc)}") from None
    if not hasattr(module, attr):
        public = sorted(n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n)))
        hint = f"; callables there: {', '.join(public[:20])}" if public else ""
        raise TaskError(f"{field} {ref!r}: module {module_name!r} has no attribute {attr!r}{hint}")
    target = getattr(module, attr)
    if not callable(target):
        raise TaskError(f"{field} {ref!r}: {attr!r} is a {type(target).__name__}, not a function")
    return target


ALLOWED_MODULES_ENV = "LRSEARCH_ALLOWED_MODULES"


def allowed_module_prefixes() -> list[str] | None:
    """The module prefixes user code may be imported from (``$LRSEARCH_ALLOWED_MODULES``, comma-separated; set by
    ``lrsearch worker --allow-module``); None when unset: any module may be imported."""
    raw = os.environ.get(ALLOWED_MODULES_ENV, "")
    prefixes = [p.strip() for p in raw.split(",") if p.strip()]
    return prefixes or None


def check_allowed(module_name: str, what: str) -> None:
    """Refuse, before importing it, a module outside the allow-list: a spec read from the database names the code
    a worker runs, so whoever can write the database could otherwise run any module on every worker."""
    prefixes = allowed_module_prefixes()
    if prefixes is None:
        return
    if any(module_name == p or module_name.startswith(p.rstrip(".") + ".") for p in prefixes):
        return
    raise TaskError(f"{what}: module {module_name!r} is not in the allowed modules ({', '.join(prefixes)}, from "
                    f"--allow-module / ${ALLOWED_MODULES_ENV}); nothing was imported")


def check_spec_modules(spec: Any) -> None:
    """:func:`check_allowed` for the user code a study spec names (its task entrypoint and training function)."""
    for field in ("entrypoint", "train"):
        ref = getattr(spec.task, field, None)
        if ref:
            check_allowed(ref.partition(":")[0], f"study {spec.name!r}: task.{field} {ref!r}")


def call_user_code(what: str, call: Callable[[], Any]) -> Any:
    """``call()``; an exception it raises, or a ``sys.exit()`` in it, becomes a :class:`TaskError` naming
    ``what`` and the line of user code that raised (exit 2, no traceback), not a crash or a silent exit 0."""
    try:
        return call()
    except (KeyboardInterrupt, TaskError):
        raise
    except BaseException as exc:
        raise TaskError(f"{what} failed: {_describe(exc)}") from None


def _describe(exc: BaseException) -> str:
    """``Kind: message (file:line)`` of an exception from user code; a ``sys.exit()`` says so."""
    if isinstance(exc, SystemExit):
        text = f"it called sys.exit({exc.code!r})" if exc.code is not None else "it called sys.exit()"
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if not f.filename.startswith((_PACKAGE_DIR, "<frozen importlib"))]
    if own:
        text += f" (at {own[-1].filename}:{own[-1].lineno})"
    return text


def _check_options(factory: Callable[..., Any], options: dict[str, Any], where: str) -> None:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return  # builtins and C functions have no signature to check against
    accepted_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    named = {
        name: p for name, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    accepted = ", ".join(
        name if p.default is inspect.Parameter.empty else f"{name} (default {p.default!r})" for name, p in named.items()
    ) or "none"
    unknown = sorted(set(options) - set(named))
    if unknown and not accepted_any:
        raise TaskError(
            f"{where} does not accept option(s) {', '.join(unknown)} in task.options; accepted options: {accepted}"
        )
    missing = [name for name, p in named.items() if p.default is inspect.Parameter.empty and name not in options]
    if missing:
        raise TaskError(f"{where} needs option(s) {', '.join(missing)} in task.options; accepted options: {accepted}")
