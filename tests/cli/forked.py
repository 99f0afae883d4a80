"""Run many ``lrsearch`` command lines as real processes, fast.

A fresh ``lrsearch`` process spends over a second importing torch and optuna, so a test module with twenty
command lines would take half a minute. :func:`run_cli` starts one interpreter, imports :mod:`lrsearch.cli`
once, and forks one child per command line. Each child runs what the console script runs
(``sys.exit(main())``) with its own stdout, stderr and exit status; an exception escaping ``main`` prints its
traceback to stderr and exits 1, as the interpreter would.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CliResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


def run_cli(invocations: list[list[str]], cwd: Path = REPO) -> list[CliResult]:
    """``lrsearch ARGV`` for each ARGV, in ``cwd``, in forked processes that run concurrently."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "tests.cli.forked"], input=json.dumps(invocations), capture_output=True, text=True,
        cwd=cwd, env=env, timeout=900, check=False,  # a deadlock guard: 20 children import torch at once
    )
    if done.returncode != 0:
        raise RuntimeError(f"the forking runner failed:\n{done.stderr}")
    return [CliResult(**r) for r in json.loads(done.stdout)]


def _child(argv: list[str], out: Path, err: Path) -> NoReturn:
    code = 1
    try:
        os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
        os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
        sys.argv = ["lrsearch", *argv]
        from lrsearch.cli import main

        code = main(argv)
    except SystemExit as exc:  # argparse, or a command calling sys.exit
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        if not isinstance(exc.code, int) and exc.code is not None:
            print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 1)


# What ``validate`` and ``space`` import on their way; the rest (pandas for results, keras, a dashboard) is
# left to the commands that need it.
_WARM = ["lrsearch.api", "lrsearch.config", "lrsearch.space", "lrsearch.storage", "lrsearch.optim",
         "lrsearch.schedules", "lrsearch.groups", "lrsearch.tasks"]


def _import_lrsearch() -> None:
    """The slow part, once, before forking: torch, optuna, sqlalchemy, pydantic and every command module."""
    from lrsearch.cli import build_parser

    for name in _WARM:
        importlib.import_module(name)
    build_parser()


def _serve() -> None:
    invocations = json.load(sys.stdin)
    _import_lrsearch()

    with tempfile.TemporaryDirectory() as tmp:
        children = []
        for i, argv in enumerate(invocations):
            out, err = Path(tmp, f"{i}.out"), Path(tmp, f"{i}.err")
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(argv, out, err)
            children.append((argv, pid, out, err))
        results = []
        for argv, pid, out, err in children:
            _, status = os.waitpid(pid, 0)
            results.append({"argv": argv, "returncode": os.waitstatus_to_exitcode(status),
                            "stdout": out.read_text(), "stderr": err.read_text()})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    _serve()
