"""``lrsearch dashboard | report``: look at studies in optuna-dashboard with lrsearch's panels, or in one HTML file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lrsearch.cli._common import STORAGE_ENV, add_study_source, env_storage, quiet_optuna, study_source
from lrsearch.cli._options import add
from lrsearch.errors import LrsearchError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dashboard", help="serve optuna-dashboard with lrsearch's panels (safe beside a running SQLite study)",
        description="Serve the stock optuna-dashboard on a study's storage, through a storage that cannot lock a "
                    "running study (SQLite in WAL mode, 60 s busy timeout), and publish lrsearch's panels and "
                    "best-configuration note into the studies: at start, then whenever a study changes. Without "
                    f"STUDY.yaml or --storage, ${STORAGE_ENV} names the storage.")
    add_study_source(p)
    for key in ("host", "port", "read_only", "publish_every", "no_publish", "publish_only", "panels", "verbose"):
        add(p, key)
    p.set_defaults(func=dashboard)

    p = sub.add_parser(
        "report", help="write one self-contained HTML file: lrsearch's panels, Optuna's plots and the trials table",
        description="Write the study's lrsearch panels, Optuna's standard plots (history, importances, parallel "
                    "coordinates, slices), the best configuration and the trials table into one HTML file with "
                    "plotly.js embedded: it opens offline and loads nothing from the network.")
    add_study_source(p)
    add(p, "output", required=True, metavar="report.html", help="the HTML file to write")
    add(p, "panels")
    p.set_defaults(func=report)


def _storage_and_studies(args: argparse.Namespace) -> tuple[str, list[str] | None]:
    """A study file or ``--study``: that study; ``--storage`` (or $LRSEARCH_STORAGE) alone: all its studies."""
    from lrsearch.config import resolve_storage
    from lrsearch.storage import check_storage

    if not args.spec and not args.storage:
        args.storage = env_storage(None)
    if args.spec or args.study:
        url, name, _ = study_source(args)
        return url, [name]
    if not args.storage:
        raise LrsearchError(f"give a study file (STUDY.yaml), or --storage URL (or set ${STORAGE_ENV})")
    url = resolve_storage(args.storage, Path.cwd())
    check_storage(url, create=False)
    return url, None


def dashboard(args: argparse.Namespace) -> int:
    from lrsearch.dashboard import load_panels, publish_studies, serve

    quiet_optuna()
    if not 0 <= args.port <= 65535:
        raise LrsearchError(f"--port must be between 0 and 65535, got {args.port}")
    every = args.publish_every
    if args.publish_only and (args.no_publish or args.read_only):
        raise LrsearchError("--publish-only writes the panels; it cannot go with --no-publish or --read-only")
    _require_extra()
    url, studies = _storage_and_studies(args)
    panels = load_panels(args.panels)
    if args.publish_only:
        publish_studies(url, studies, panels, out=sys.stdout)
        return 0
    return serve(url, host=args.host, port=args.port, read_only=args.read_only, studies=studies, panels=panels,
                 publish_every=float(every or 0.0), publish=not args.no_publish, verbose=args.verbose)


def report(args: argparse.Namespace) -> int:
    from lrsearch.dashboard import write_report

    quiet_optuna()
    _require_extra()
    if args.storage is None and not args.spec:
        args.storage = env_storage(None)
    url, name, _ = study_source(args)
    path = write_report(url, name, args.output, args.panels)
    print(f"wrote {path} (study {name!r}; {path.stat().st_size / 1e6:.1f} MB, opens offline)")
    return 0


def _require_extra() -> None:
    missing = [m for m in ("optuna_dashboard", "plotly") if not _importable(m)]
    if missing:
        raise LrsearchError(f"this command needs {' and '.join(missing)}: pip install 'lrsearch[dashboard]'")


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
