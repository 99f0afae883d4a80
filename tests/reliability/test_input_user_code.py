"""User code that misbehaves before any trial runs: an entrypoint module raising on import, a task factory
raising, ``sys.exit()`` in either. Each is exit 2 with the message and the line, no traceback, nothing written."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_spec
from tests.reliability._helpers import refused, tiny_spec

pytestmark = pytest.mark.slow  # real runs of misbehaving user code

MODULES = {
    "raises_on_import": ("raise RuntimeError('the config server is down')\n", "RuntimeError: the config server is down"),
    "exits_on_import": ("import sys\nsys.exit(0)\n", "it called sys.exit(0)"),
    "factory_raises": ("def build():\n    raise ValueError('no data directory given')\n",
                       "ValueError: no data directory given"),
    "factory_exits": ("import sys\ndef build():\n    sys.exit('usage: build DIR')\n",
                      "it called sys.exit('usage: build DIR')"),
}


@pytest.mark.parametrize("module", list(MODULES))
def test_misbehaving_user_code_is_exit_2_with_its_message(tmp_path: Path, module: str) -> None:
    source, message = MODULES[module]
    (tmp_path / f"{module}.py").write_text(source)
    spec = tiny_spec(task={"entrypoint": f"{module}:build", "device": "cpu"})
    proc = run_cli("run", str(write_spec(tmp_path, spec)), cwd=tmp_path)
    refused(proc, f"task.entrypoint '{module}:build'", message, f"{module}.py:")
    assert not (tmp_path / "lrsearch.db").exists()


def test_sys_exit_inside_a_trial_fails_that_trial_and_the_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "exits_in_trial.py").write_text("import sys\ndef train(ctx):\n    sys.exit(0)\n")
    spec = tiny_spec("quits", trials=2, task={"train": "exits_in_trial:train", "device": "cpu", "threads": 1})
    proc = run_cli("run", str(write_spec(tmp_path, spec)), "--quiet", cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out
    # Not a silent "successful" exit: the run summary counts the trials as failed (how many depends on when the
    # run stops retrying the same error).
    assert re.search(r"this run: 0 complete, 0 pruned, [1-9]\d* failed", proc.stdout), out
    with sqlite3.connect(tmp_path / "lrsearch.db") as conn:
        errors = [r[0] for r in conn.execute("SELECT error FROM lrsearch_trials ORDER BY trial_number")]
    assert errors and set(errors) == {"the trial's code called sys.exit(0)"}
