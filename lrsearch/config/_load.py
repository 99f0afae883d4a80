"""Load a study spec from YAML, validate it completely, and report every problem at once."""

from __future__ import annotations

import copy
import difflib
import hashlib
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from lrsearch.config._defaults import fill_defaults
from lrsearch.config._dims import Dim
from lrsearch.config._schema import StudySpec
from lrsearch.config._semantics import check_spec
from lrsearch.errors import SpecError

DEFAULT_DB = "lrsearch.db"


# A study file is a page of settings: a few KB. The limits stop a wrong file (a dataset, a log) or a YAML alias
# bomb (a few lines that expand to billions of nodes) from taking minutes and gigabytes before being refused.
MAX_SPEC_BYTES = 1_000_000
MAX_SPEC_NODES = 100_000


def load_spec(path: str | os.PathLike[str]) -> StudySpec:
    """Read, parse and validate ``path``. Raises :class:`SpecError` listing every problem."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        raise SpecError([("", f"no such file: {path}")], source=str(path)) from None
    except IsADirectoryError:
        raise SpecError([("", f"{path} is a directory, not a study file")], source=str(path)) from None
    except OSError as exc:
        raise SpecError([("", f"cannot read {path}: {exc.strerror}")], source=str(path)) from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError([("", f"the file is larger than {MAX_SPEC_BYTES:,} bytes; a study file is a page of "
                              "settings (is this the right file?)")], source=str(path))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError([("", f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at line {line} (offset {exc.start}); "
                              "save the study file as UTF-8")], source=str(path)) from None
    return parse_spec(parse_yaml(text, str(path)), source=str(path), base_dir=path.resolve().parent)


def parse_yaml(text: str, source: str | None = None) -> Any:
    """The YAML document in ``text`` as plain data; refuses one whose aliases expand past ``MAX_SPEC_NODES``."""
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, {}, 0)
        if size > MAX_SPEC_NODES:
            raise SpecError([("", f"the YAML expands to more than {MAX_SPEC_NODES:,} values through its aliases "
                                  "(*name); a study file needs a few hundred")], source)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise SpecError([("", _yaml_message(exc))], source) from None
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, memo: dict[int, int], depth: int) -> int:
    """How many nodes ``node`` stands for once every alias is expanded (aliases share their node objects)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if depth > 200:  # deeper than any settings file; also keeps recursion far from Python's limit
        return MAX_SPEC_NODES + 1
    memo[key] = MAX_SPEC_NODES + 1  # a node reached again while being counted: a recursive alias
    total = 1
    if isinstance(node, yaml.SequenceNode):
        children: list[yaml.Node] = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    else:
        children = []
    for child in children:
        total += _expanded_size(child, memo, depth + 1)
        if total > MAX_SPEC_NODES:
            break
    memo[key] = total
    return total


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; a spec with ``schedule:`` twice is a mistake, not an override."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # ``<<: *anchor`` may be overridden by design
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                first = seen[key]
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {first.line + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _yaml_message(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc)
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    started = ""
    if context and context_mark is not None and (mark is None or context_mark.line != mark.line):
        started = f" ({context} started at line {context_mark.line + 1}, column {context_mark.column + 1})"
    return f"YAML syntax error{where}: {problem}{started}"


def parse_spec(data: Any, *, source: str | None = None, base_dir: Path | None = None) -> StudySpec:
    """Validate a spec given as plain data (a parsed YAML mapping)."""
    if data is None:
        raise SpecError([("", "the spec is empty; it needs at least name, budget, task and groups")], source)
    if not isinstance(data, dict):
        raise SpecError([("", f"the spec must be a mapping of keys (name, budget, task, ...), got {type(data).__name__}")], source)
    plugin_problems = import_plugins(data.get("plugins"))
    if plugin_problems:
        raise SpecError(plugin_problems, source)
    data = fill_defaults(data)
    try:
        spec = StudySpec.model_validate(data)
    except ValidationError as exc:
        problems = _pydantic_problems(exc)
        raise SpecError(problems + _checks_without(data, exc, problems), source) from None
    problems = check_spec(spec)
    if problems:
        raise SpecError(problems, source)
    spec.storage = resolve_storage(spec.storage, base_dir)
    _resolve_trackers(spec, base_dir or Path.cwd())
    return spec


def _resolve_trackers(spec: StudySpec, base: Path) -> None:
    """Trackers' relative paths (a TensorBoard log_dir, a SQLite tracking URI) are relative to the study file, as
    the storage is; the stored spec then holds absolute ones, which every worker uses."""
    from lrsearch.trackers import get_tracker

    for tracker in spec.trackers:
        entry = get_tracker(tracker.name)
        if entry is not None:
            tracker.options = entry.resolve(dict(tracker.options), base)


def import_plugins(plugins: Any) -> list[tuple[str, str]]:
    """Import each module of ``plugins`` (they register optimizers, shapes or tasks); problems by field path.

    Done before the rest of the spec is checked, so that what they register is known to the checks. A value that
    is not a list of names is left to the schema to report.
    """
    if not isinstance(plugins, list):
        return []
    # Like task entrypoints, a user's own module imports from where lrsearch runs (appended: never shadows).
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    problems = []
    for i, name in enumerate(plugins):
        if not isinstance(name, str):
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:  # a plugin's own bug is the user's to fix; say which and why
            problems.append((f"plugins[{i}]", f"cannot import plugin {name!r}: {type(exc).__name__}: {exc}"))
    return problems


def resolve_storage(url: str | None, base_dir: Path | None) -> str:
    """The default is a SQLite file ``lrsearch.db`` next to the study; relative SQLite paths are relative to it."""
    base = base_dir or Path.cwd()
    if url is None:
        return f"sqlite:///{(base / DEFAULT_DB).as_posix()}"
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        rel = url[len("sqlite:///"):]
        if not Path(rel).is_absolute():
            return f"sqlite:///{(base / rel).as_posix()}"
    return url


RESUMABLE_KEYS = ("budget", "storage", "description", "confirm", "sampler", "pruner", "plugins", "trackers", "search")


def spec_hash(spec: StudySpec) -> str:
    """A hash of what makes trials comparable: the search space, task, objective and epochs.

    What may change when a study is resumed: budget (but epochs), storage, description, confirm, the sampler and
    pruner (they decide which configs run, not what a config means), plugins and trackers, where a trial runs
    (device, threads), and the own loop's ``task.model`` (it only checks groups before a run).
    """
    data = spec.model_dump(mode="json", exclude=set(RESUMABLE_KEYS))
    data["epochs"] = spec.budget.epochs
    for key in ("device", "threads", "model"):
        data["task"].pop(key, None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _pydantic_problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for err in exc.errors():
        loc = [part for part in err["loc"] if not (isinstance(part, str) and ("[" in part or part.startswith("function-")))]
        problem = (_format_loc(loc), _message(err, loc))
        if problem not in problems:  # a union reports one error per member; the user needs it once
            problems.append(problem)
    return problems


def _checks_without(data: dict[str, Any], exc: ValidationError, reported: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The cross-field problems too, so that one run lists everything: drop each key the schema rejected (its
    default takes its place) and check the rest. Gives up (returns nothing) when that does not validate."""
    trimmed = copy.deepcopy(data)
    for _ in range(3):  # dropping a key can make its parent invalid (a range without its high), so repeat
        for err in exc.errors():
            *parents, last = err["loc"] or [None]
            if not isinstance(last, str) or err["type"] == "missing":
                return []  # removing a list item would shift its siblings' indices; a required key stays missing
            try:
                node: Any = trimmed
                for part in parents:
                    node = node[part]
                node.pop(last, None)
            except (KeyError, IndexError, TypeError, AttributeError):
                return []
        try:
            spec = StudySpec.model_validate(trimmed)
        except ValidationError as again:
            exc = again
            continue
        seen = [path for path, _ in reported]
        return [(path, msg) for path, msg in check_spec(spec)
                if not any(path == p or path.startswith((p + ".", p + "[")) for p in seen)]
    return []


def _message(err: Any, loc: list[Any]) -> str:
    """Pydantic's message in the spec's words: the rule, what would be valid, and the value given."""
    kind, given = err["type"], err.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown key; {hint}valid keys here: {', '.join(allowed)}" if allowed else "unknown key"
    if kind == "missing":
        return "required"
    if kind in ("value_error", "assertion_error"):
        return str(err.get("ctx", {}).get("error", err["msg"]))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        keys = _allowed_keys(loc)
        return "must be a mapping" + (f" of keys ({', '.join(keys)})" if keys else "") + f", got {_show(given)}"
    if kind == "list_type":
        return f"must be a list, got {_show(given)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number, got {_show(given)}"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"must be a finite number, got {_show(given)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, got {_show(given)}"
    if kind in ("string_type",):
        return f"must be a string, got {_show(given)}"
    if kind == "literal_error":
        return f"must be {err['ctx']['expected']}, got {_show(given)}"
    msg = err["msg"].replace("Input should be", "must be", 1)
    return f"{msg}, got {_show(given)}" if "input" in err else msg


def _show(value: Any) -> str:
    """A value as the user wrote it, short enough for one line."""
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    text = repr(value)
    if isinstance(value, list) and len(text) > 60:
        return f"a list of {len(value)} items"
    return text if len(text) <= 60 else text[:57] + "..."


def _format_loc(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _allowed_keys(loc: list[Any]) -> list[str]:
    """Walk the model classes along ``loc`` to list the keys valid at that place."""
    model: Any = StudySpec
    for part in loc:
        if isinstance(part, int):
            continue
        if get_origin(model) is dict:
            model = _unwrap(get_args(model)[1])
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        model = _unwrap(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [k for k in model.model_fields if not k.startswith("_")]
    return []


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> X, ``list[X]`` -> X; dicts are kept (their keys are the user's)."""
    while True:
        origin = get_origin(annotation)
        if origin is None or origin is dict:
            return annotation
        args = [a for a in get_args(annotation) if a is not type(None)]
        if not args:
            return annotation
        annotation = args[0]


__all__ = ["load_spec", "parse_spec", "resolve_storage", "spec_hash", "Dim"]
