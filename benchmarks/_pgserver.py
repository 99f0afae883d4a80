"""A private PostgreSQL server for a benchmark: ``initdb`` + ``pg_ctl`` from the machine's PostgreSQL binaries, in a
temporary directory, on a free port, trust authentication, stopped when the block ends.

For benchmarks that open many connections: a shared server's ``max_connections`` is everyone's, and running it out
would fail other people's work; this one's is the benchmark's own.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks._common import Skip


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise Skip("no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql")
    return Path(initdb).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def private_postgres(max_connections: int = 100, settings: dict[str, str] | None = None) -> Iterator[str]:
    """Yields the URL of the ``postgres`` database of a fresh server (superuser ``postgres``, no password)."""
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="lrsearch-pg-"))
    run_as: dict[str, object] = {}
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise Skip("running as root and there is no 'postgres' user to run a private server as") from None
        os.chown(root, user.pw_uid, user.pw_gid)
        run_as = {"user": user.pw_uid, "group": user.pw_gid}
    data, port = root / "data", _free_port()
    options = {"max_connections": str(max_connections), "listen_addresses": "'127.0.0.1'", "port": str(port),
               "unix_socket_directories": f"'{root}'", "fsync": "on", **(settings or {})}

    def run(*args: str) -> None:
        proc = subprocess.run(list(args), capture_output=True, text=True, **run_as)  # type: ignore[call-overload]
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync")
        with open(data / "postgresql.conf", "a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in options.items())
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60", "start")
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        finally:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
