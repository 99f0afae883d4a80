"""``lrsearch dashboard``: the stock optuna-dashboard app, served on a storage that cannot lock a running study,
with lrsearch's panels republished in the background while the studies change."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence
from socketserver import ThreadingMixIn
from typing import Any, TextIO
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import sqlalchemy as sa

from lrsearch.dashboard._panels import PanelDef
from lrsearch.dashboard._storage import dashboard_storage
from lrsearch.errors import LrsearchError
from lrsearch.storage import Store, redact
from lrsearch.storage.optuna_adapter import fingerprint_query, study_id_by_name


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a stuck browser connection must not keep the process alive on shutdown


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass


class _Stop(Exception):
    pass


def fingerprint(url: str, study: str) -> tuple[Any, ...]:
    """Changes whenever a trial starts, finishes or records an epoch, or a confirmation run is stored."""
    with Store(url).engine.connect() as conn:
        optuna_part = fingerprint_query(conn, study)
        epochs = conn.execute(sa.text("SELECT COUNT(*) FROM lrsearch_epochs WHERE study_name = :name"),
                              {"name": study}).scalar()
        confirms = conn.execute(sa.text("SELECT COUNT(*) FROM lrsearch_confirm WHERE study_name = :name"),
                                {"name": study}).scalar() if sa.inspect(conn).has_table("lrsearch_confirm") else 0
    return (*optuna_part, epochs, confirms)


class Publisher(threading.Thread):
    """Republishes the panels of each study whose data changed, every ``every`` seconds (first pass at once)."""

    def __init__(self, url: str, studies: Sequence[str] | None, panels: Sequence[PanelDef], every: float,
                 out: TextIO) -> None:
        super().__init__(name="lrsearch-panels", daemon=True)
        self.url, self.studies, self.panels, self.every, self.out = url, studies, list(panels), every, out
        self.stopped = threading.Event()
        self.seen: dict[str, tuple[Any, ...]] = {}
        self.failed: set[str] = set()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.pass_once()
            if self.every <= 0:
                return
            self.stopped.wait(self.every)

    def pass_once(self) -> None:
        from lrsearch.dashboard._publish import publish, study_names

        try:
            names = study_names(self.url, self.studies)
        except LrsearchError as exc:
            if "*" not in self.failed:
                self.failed.add("*")
                print(f"lrsearch dashboard: no lrsearch panels to publish ({exc}); the Optuna studies are served "
                      "as they are", file=self.out, flush=True)
            return
        for name in names:
            try:
                mark = fingerprint(self.url, name)
                if self.seen.get(name) == mark:
                    continue
                publish(self.url, name, self.panels)
                self.seen[name] = mark
                self.failed.discard(name)
                print(f"lrsearch dashboard: published the panels of study {name!r}", file=self.out, flush=True)
            except Exception as exc:  # noqa: BLE001 - keep serving; say why once per study
                self._warn(name, f"{type(exc).__name__}: {exc}")

    def _warn(self, name: str, message: str) -> None:
        if name not in self.failed:
            self.failed.add(name)
            print(f"lrsearch dashboard: warning: panels of study {name!r} not published: {message}", file=self.out,
                  flush=True)


def make_app(url: str, *, read_only: bool = False) -> Any:
    """The optuna-dashboard WSGI app on :func:`dashboard_storage`."""
    from optuna_dashboard import wsgi

    return wsgi(dashboard_storage(url, read_only=read_only))


def serve(url: str, *, host: str = "127.0.0.1", port: int = 8080, read_only: bool = False,
          studies: Sequence[str] | None = None, panels: Sequence[PanelDef] = (), publish_every: float = 60.0,
          publish: bool = True, verbose: bool = False, out: TextIO = sys.stderr) -> int:
    """Serve until Ctrl-C or SIGTERM. ``studies`` picks the studies to publish panels into (default: all)."""
    app = make_app(url, read_only=read_only)
    try:
        httpd = make_server(host, port, app, server_class=_Server,
                            handler_class=WSGIRequestHandler if verbose else _QuietHandler)
    except OSError as exc:
        raise LrsearchError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    base = f"http://{shown_host}:{httpd.server_port}"
    print(f"lrsearch dashboard: serving {redact(url)}{' (read-only)' if read_only else ''} at {base}/dashboard",
          file=out, flush=True)
    for name in studies or []:
        study_id = app_study_id(url, name)
        if study_id is not None:
            print(f"  study {name!r}: {base}/dashboard/studies/{study_id}", file=out, flush=True)
    publisher = None
    if publish and not read_only:
        publisher = Publisher(url, studies, panels, publish_every, out)
        publisher.start()

    def stop(_signum: int, _frame: Any) -> None:
        raise _Stop

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        httpd.serve_forever()
    except (_Stop, KeyboardInterrupt):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if publisher is not None:
            publisher.stopped.set()
        httpd.server_close()
    print("lrsearch dashboard: stopped", file=out, flush=True)
    return 0


def app_study_id(url: str, name: str) -> int | None:
    with Store(url).engine.connect() as conn:
        return study_id_by_name(conn, name)
