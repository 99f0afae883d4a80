"""The progress display as people see it: a bar in a real terminal (tmux, 80 columns), plain lines in a pipe, and a
consistent summary after Ctrl-C."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import run_cli, start_cli, write_spec
from tests.runner.test_failures import misbehaving_spec

pytestmark = pytest.mark.slow  # real runs in a pipe and in a terminal

ROOT = Path(__file__).resolve().parents[2]
NAME = "progress-in-a-narrow-pane"  # long, so that the bar's text would wrap in 80 columns if it were not clamped
FAILURES = {"1": "raise", "3": "nan"}
FAILED = {1: "exception", 3: "nan"}
ENV = {"PYTHONPATH": str(ROOT)}


def failure_row(lines: list[str], number: int, reason: str) -> int | None:
    """The index of the line that reports trial ``number``'s failure whole: reason, error, log path."""
    head = f"[{NAME}] trial {number} failed ({reason})"
    tail = f"; log: lrsearch-logs/{NAME}/trial-{number}.log"
    return next((i for i, line in enumerate(lines) if line.startswith(head) and line.endswith(tail)), None)


def spec(tmp_path: Path, trials: int = 5, failures: dict[str, str] = FAILURES) -> Path:
    data = misbehaving_spec(NAME, trials, failures)
    data["storage"] = "sqlite:///progress.db"
    return write_spec(tmp_path, data)


class Tmux:
    """A tmux server of its own (its own socket), with one detached session of a fixed size."""

    def __init__(self, width: int, height: int) -> None:
        self.socket = f"lrsearch-test-{uuid.uuid4().hex[:8]}"
        self.size = (width, height)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True, capture_output=True, text=True,
                              timeout=60).stdout

    def start(self, command: str, cwd: Path) -> None:
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", str(self.size[0]), "-y",
                  str(self.size[1]), "-c", str(cwd), command)

    def screen(self, joined: bool = False) -> str:
        """The pane as it shows now, scrollback included; ``joined``: lines the terminal wrapped are joined."""
        return self.tmux("capture-pane", "-p", "-S", "-200", *(["-J"] if joined else []), "-t", "t")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=60)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (apt-get install tmux)")
def test_a_bar_in_an_80_column_terminal(tmp_path: Path) -> None:
    path = spec(tmp_path)
    term = Tmux(80, 40)
    command = (f"env PYTHONPATH={ROOT} {sys.executable} -m lrsearch run {path.name} --log-dir lrsearch-logs; "
               "echo EXIT=$?; sleep 600")
    try:
        term.start(command, tmp_path)
        deadline = time.monotonic() + 600  # a deadlock guard, not a speed requirement
        while "EXIT=" not in term.screen() and time.monotonic() < deadline:
            time.sleep(1)
        visual, joined = term.screen(), term.screen(joined=True)
    finally:
        term.close()
    assert "EXIT=0" in visual, visual
    rows = visual.splitlines()
    assert all(len(row) <= 80 for row in rows)
    bars = [row for row in rows if "%|" in row]
    assert len(bars) == 1, "one bar line, not a stack of redraws:\n" + visual
    assert bars[0].startswith(f"[{NAME[:17]}…] 100%|") and "| 5/5 [" in bars[0] and "2 failed, best 0." in bars[0]
    assert "█" * 10 in bars[0]  # the bar itself keeps its room
    lines = [line.rstrip() for line in joined.splitlines()]
    for number, reason in FAILED.items():
        assert failure_row(lines, number, reason) is not None, joined  # whole, on lines of its own
    # the failure lines stay above the bar, and the summary follows it
    assert max(failure_row(lines, n, r) for n, r in FAILED.items()) < lines.index(bars[0])
    assert "  this run: 5 complete, 0 pruned, 2 failed" in lines[lines.index(bars[0]) + 2]


def test_plain_lines_in_a_pipe(tmp_path: Path) -> None:
    path = spec(tmp_path, trials=4)
    proc = run_cli("run", str(path), "--log-dir", "lrsearch-logs", cwd=tmp_path, env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr and "\x1b[" not in proc.stderr and "%|" not in proc.stderr
    lines = proc.stderr.splitlines()
    for number, reason in FAILED.items():
        assert failure_row(lines, number, reason) is not None
        assert (tmp_path / "lrsearch-logs" / NAME / f"trial-{number}.log").is_file()
    assert re.fullmatch(rf"\[{NAME}\] 4/4 finished \(4 complete, 0 pruned, 2 failed, best val_accuracy=[\d.]+\), "
                        r"\d+[sm].*", lines[-1])
    assert "eta" not in lines[-1]


def test_the_summary_after_ctrl_c_counts_the_interrupted_trial(tmp_path: Path) -> None:
    path = spec(tmp_path, trials=3, failures={"1": "hang"})
    proc = start_cli("run", str(path), "--log-dir", str(tmp_path / "lrsearch-logs"))
    log = tmp_path / "lrsearch-logs" / NAME / "trial-1.log"
    deadline = time.monotonic() + 600  # a deadlock guard
    while not (log.is_file() and "starts in mode hang" in log.read_text()) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "  this run: 1 complete, 0 pruned, 1 failed" in out and " (stopped: interrupted)" in out
    assert "  in total: 1 complete, 0 pruned, 1 failed" in out
    last = err.strip().splitlines()[-2 if err.strip().endswith("interrupted") else -1]
    assert "1/3 finished" in last and "1 failed" in last and "eta" not in last, err
    assert f"[{NAME}] trial 1 failed (interrupted)" in err


@pytest.fixture(autouse=True)
def _cwd_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
