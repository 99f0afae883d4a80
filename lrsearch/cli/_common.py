"""What several commands share: finding the study, quieting Optuna, JSON output.

Nothing heavy is imported at module level: ``lrsearch --help`` builds every command's parser from these modules.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrsearch.cli._options import add_study_source
from lrsearch.errors import LrsearchError

if TYPE_CHECKING:  # pragma: no cover
    from lrsearch.config import StudySpec

__all__ = ["STORAGE_ENV", "add_study_source", "env_storage", "print_json", "quiet_optuna", "study_source", "study_spec"]

STORAGE_ENV = "LRSEARCH_STORAGE"


def env_storage(given: str | None) -> str | None:
    """``--storage`` as given, else ``$LRSEARCH_STORAGE`` (blank counts as unset), else None."""
    import os

    return given or os.environ.get(STORAGE_ENV, "").strip() or None


def quiet_optuna() -> None:
    import logging
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    logging.getLogger("optuna").setLevel(logging.WARNING)


def study_source(args: argparse.Namespace) -> tuple[str, str, StudySpec | None]:
    """``(storage url, study name, spec or None)`` from a study file or ``--storage``/``--study``."""
    from lrsearch.config import load_spec, resolve_storage

    if getattr(args, "spec", None):
        spec = load_spec(args.spec)
        url = resolve_storage(args.storage, Path.cwd()) if getattr(args, "storage", None) else spec.storage
        assert url is not None
        return url, getattr(args, "study", None) or spec.name, spec
    if not getattr(args, "storage", None):
        raise LrsearchError("give a study file (STUDY.yaml) or --storage URL with --study NAME")
    url = resolve_storage(args.storage, Path.cwd())
    if not getattr(args, "study", None):
        from lrsearch.storage import Store, check_storage

        check_storage(url, create=False)
        names = Store(url).study_names()
        if len(names) == 1:
            return url, names[0], None
        raise LrsearchError(f"--study is required: the storage holds {', '.join(names) or 'no lrsearch studies'}")
    return url, args.study, None


def study_spec(args: argparse.Namespace) -> tuple[StudySpec, str]:
    """The spec of a study file, or the one stored with ``--storage``/``--study``; and how to name its source."""
    url, name, spec = study_source(args)
    if spec is not None:
        if getattr(args, "storage", None):
            spec.storage = url
        return spec, str(args.spec)
    from lrsearch.runner import load_stored_spec
    from lrsearch.storage import check_storage, redact

    check_storage(url, create=False)
    return load_stored_spec(url, name), f"study {name!r} in {redact(url)}"


def print_json(data: Any) -> None:
    """``data`` as JSON on stdout; NaN and infinities (which JSON lacks) become null."""
    json.dump(_clean(data), sys.stdout, indent=2, default=_jsonable, allow_nan=False)
    sys.stdout.write("\n")


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return _clean(value.item())
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
