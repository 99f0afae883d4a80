"""``lrsearch dashboard | report``: look at studies in optuna-dashboard with lrsearch's panels, or in one HTML file."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lrsearch.cli._common import add_study_source, quiet_optuna, study_source
from lrsearch.errors import LrsearchError

STORAGE_ENV = "LRSEARCH_STORAGE"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dashboard", help="serve optuna-dashboard with lrsearch's panels (safe beside a running SQLite study)",
        description="Serve the stock optuna-dashboard on a study's storage, through a storage that cannot lock a "
                    "running study (SQLite in WAL mode, 60 s busy timeout), and publish lrsearch's panels and "
                    "best-configuration note into the studies: at start, then whenever a study changes. Without "
                    f"STUDY.yaml or --storage, ${STORAGE_ENV} names the storage.")
    add_study_source(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    p.add_argument("--read-only", action="store_true",
                   help="connections that cannot write: dashboard edits (notes, deleting studies) fail, no panels "
                        "are published")
    p.add_argument("--publish-every", default="60", metavar="DURATION",
                   help="check the studies for changes and republish their panels this often (default 60s; e.g. "
                        "30, 5m; 0: only at start)")
    p.add_argument("--no-publish", action="store_true", help="serve only; publish no panels")
    p.add_argument("--publish-only", action="store_true", help="publish the panels and the note, then exit")
    p.add_argument("--panels", metavar="FILE", help="panel definitions (default: the ones lrsearch ships)")
    p.add_argument("--verbose", action="store_true", help="log every HTTP request")
    p.set_defaults(func=dashboard)

    p = sub.add_parser(
        "report", help="write one self-contained HTML file: lrsearch's panels and the trials table",
        description="Write the study's lrsearch panels, best configuration and trials table into one HTML file "
                    "with plotly.js embedded: it opens offline and loads nothing from the network.")
    add_study_source(p)
    p.add_argument("-o", "--output", required=True, metavar="report.html", help="the HTML file to write")
    p.add_argument("--panels", metavar="FILE", help="panel definitions (default: the ones lrsearch ships)")
    p.set_defaults(func=report)


def _storage_and_studies(args: argparse.Namespace) -> tuple[str, list[str] | None]:
    """A study file or ``--study``: that study; ``--storage`` (or $LRSEARCH_STORAGE) alone: all its studies."""
    from lrsearch.config import resolve_storage
    from lrsearch.storage import check_storage

    if not args.spec and not args.storage:
        args.storage = os.environ.get(STORAGE_ENV) or None
    if args.spec or args.study:
        url, name, _ = study_source(args)
        return url, [name]
    if not args.storage:
        raise LrsearchError(f"give a study file (STUDY.yaml), or --storage URL (or set ${STORAGE_ENV})")
    url = resolve_storage(args.storage, Path.cwd())
    check_storage(url, create=False)
    return url, None


def dashboard(args: argparse.Namespace) -> int:
    from lrsearch.config import parse_duration
    from lrsearch.dashboard import load_panels, publish_studies, serve

    quiet_optuna()
    if not 0 <= args.port <= 65535:
        raise LrsearchError(f"--port must be between 0 and 65535, got {args.port}")
    try:
        every = 0.0 if str(args.publish_every).strip() in ("0", "0s") else parse_duration(args.publish_every)
    except ValueError as exc:
        raise LrsearchError(f"--publish-every {exc}") from None
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
        args.storage = os.environ.get(STORAGE_ENV) or None
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
