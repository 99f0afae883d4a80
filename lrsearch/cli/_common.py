"""Arguments shared by several commands."""

from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path

import optuna

from lrsearch.config import StudySpec, load_spec, resolve_storage
from lrsearch.errors import LrsearchError


def quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    logging.getLogger("optuna").setLevel(logging.WARNING)


def add_study_source(parser: argparse.ArgumentParser, *, spec_required: bool = False) -> None:
    """``study.yaml`` or ``--storage URL --study NAME``."""
    parser.add_argument("spec", nargs=None if spec_required else "?", metavar="STUDY.yaml", help="the study spec")
    if not spec_required:
        parser.add_argument("--storage", help="storage URL (instead of a study file), e.g. sqlite:///lrsearch.db")
        parser.add_argument("--study", help="study name in --storage")


def study_source(args: argparse.Namespace) -> tuple[str, str, StudySpec | None]:
    """``(storage url, study name, spec or None)`` from a study file or ``--storage``/``--study``."""
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
