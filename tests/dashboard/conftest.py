"""A real study (``lrsearch run`` on digits, with confirmation runs) and a real ``lrsearch dashboard`` process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, digits_spec, run_cli, write_spec
from tests.fixtures_tasks.slow import starting

ARTIFACTS = ROOT / "artifacts" / "dashboard"


@dataclass
class Study:
    spec: Path
    db: Path
    name: str

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db}"


@pytest.fixture(scope="session")
def digits_study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    """12 trials of the digits study (some pruned), the top 2 confirmed with 2 seeds each, run by the real CLI."""
    tmp = tmp_path_factory.mktemp("dashboard-study")
    spec = digits_spec("dash", budget={"trials": 12, "epochs": 4}, confirm={"top": 2, "seeds": 2})
    path = write_spec(tmp, spec)
    proc = run_cli("run", str(path), "--quiet", check=True)
    assert "best trial #" in proc.stdout
    return Study(path, tmp / "lrsearch.db", "dash")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 60) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


def get_json(url: str) -> dict:
    return json.loads(get(url)[1])


class Dashboard:
    """``lrsearch dashboard ARGS`` in a subprocess, on a free port; ``stop()`` sends SIGTERM."""

    def __init__(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        starting("starts a dashboard server")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lrsearch", "dashboard", *args, "--port", str(self.port)], cwd=cwd,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self.output = ""

    def wait_ready(self, timeout: float = 90) -> Dashboard:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"lrsearch dashboard exited {self.proc.returncode}:\n{self.stop()}")
            try:
                if get(f"{self.base}/api/meta", timeout=5)[0] == 200:
                    return self
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"lrsearch dashboard did not answer within {timeout}s:\n{self.stop()}")

    def study_id(self, name: str) -> int:
        studies = get_json(f"{self.base}/api/studies")["study_summaries"]
        return next(s["study_id"] for s in studies if s["study_name"] == name)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.output += self.proc.stdout.read() if self.proc.stdout else ""
        return self.output


@pytest.fixture
def dashboard_of() -> Iterator:
    started: list[Dashboard] = []

    def start(*args: str, **kwargs: object) -> Dashboard:
        board = Dashboard(*args, **kwargs)  # type: ignore[arg-type]
        started.append(board)
        return board.wait_ready()

    yield start
    for board in started:
        board.stop()
