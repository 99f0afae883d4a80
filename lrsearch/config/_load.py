"""Load a study spec from YAML, validate it completely, and report every problem at once."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from lrsearch.config._dims import Dim
from lrsearch.config._schema import StudySpec
from lrsearch.config._semantics import check_spec
from lrsearch.errors import SpecError

DEFAULT_DB = "lrsearch.db"


def load_spec(path: str | os.PathLike[str]) -> StudySpec:
    """Read, parse and validate ``path``. Raises :class:`SpecError` listing every problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SpecError([("", f"no such file: {path}")], source=str(path)) from None
    except OSError as exc:
        raise SpecError([("", f"cannot read {path}: {exc.strerror}")], source=str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([("", f"YAML syntax error at {where}{problem}")], source=str(path)) from None
    return parse_spec(data, source=str(path), base_dir=path.resolve().parent)


def parse_spec(data: Any, *, source: str | None = None, base_dir: Path | None = None) -> StudySpec:
    """Validate a spec given as plain data (a parsed YAML mapping)."""
    if not isinstance(data, dict):
        raise SpecError([("", f"the spec must be a mapping of keys (name, budget, task, ...), got {type(data).__name__}")], source)
    try:
        spec = StudySpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_pydantic_problems(exc), source) from None
    problems = check_spec(spec)
    if problems:
        raise SpecError(problems, source)
    spec.storage = resolve_storage(spec.storage, base_dir)
    return spec


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


def spec_hash(spec: StudySpec) -> str:
    """A hash of what defines the search space; budget, storage and description may change between runs."""
    data = spec.model_dump(mode="json", exclude={"budget", "storage", "description", "confirm"})
    data["epochs"] = spec.budget.epochs
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _pydantic_problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for err in exc.errors():
        loc = [part for part in err["loc"] if not (isinstance(part, str) and ("[" in part or part.startswith("function-")))]
        path = _format_loc(loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            msg = f"unknown key; {hint}valid keys here: {', '.join(allowed)}" if allowed else "unknown key"
        elif kind == "missing":
            msg = "required"
        elif kind == "value_error":
            msg = str(err.get("ctx", {}).get("error", err["msg"]))
        elif kind == "literal_error":
            msg = f"{err['msg']}, got {err['input']!r}"
        else:
            msg = f"{err['msg']}, got {err['input']!r}" if "input" in err and not isinstance(err["input"], dict) else err["msg"]
        problems.append((path, msg))
    return problems


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
