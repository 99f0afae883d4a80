"""A PostgreSQL server of the test's own, on a free port and in a temporary directory, that a test may stop and
start again (a database outage, for real). Made with ``initdb`` and ``pg_ctl`` from the Debian packages
(/usr/lib/postgresql/*/bin), run as the ``postgres`` user when the tests run as root. Skipped, with the reason,
where those programs are missing. The machine's shared server is never touched."""

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

import pytest

from tests.fixtures_tasks.slow import starting


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0)
    if not found or not Path(found[-1]).with_name("initdb").exists():
        pytest.skip("needs initdb and pg_ctl from /usr/lib/postgresql/*/bin (apt-get install postgresql) to start "
                    "a PostgreSQL server of the test's own")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OwnPostgres:
    """``url``, ``stop()``, ``start()``: a server this test may take down."""

    def __init__(self, root: Path) -> None:
        self.bin = _bin_dir()
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self.port = _free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self.as_postgres: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no postgres user to run a PostgreSQL server as")
            os.chown(root, user.pw_uid, user.pw_gid)
            self.as_postgres = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str, timeout: float = 120) -> None:
        proc = subprocess.run([*self.as_postgres, *args], capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}\n{log}")

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
                   "-c max_connections=60 -c shared_buffers=16MB")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "120",
                  "-o", options, "start")

    def stop(self) -> None:
        """A fast shutdown: connected clients are disconnected (``terminating connection due to administrator
        command``), then new connections are refused until :meth:`start`."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "120", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    starting("starts a PostgreSQL server of its own")
    # Not under pytest's tmp_path: its parents are private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="lrsearch-pg-"))
    os.chmod(root, 0o700)
    server = OwnPostgres(root)
    try:
        server.init()
        server.start()
        yield server
    finally:
        if server.running():
            try:
                server.stop()
            except (RuntimeError, subprocess.TimeoutExpired):
                server._run(str(server.bin / "pg_ctl"), "-D", str(server.data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)
