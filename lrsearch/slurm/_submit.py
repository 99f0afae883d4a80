"""Submitting a worker array with ``sbatch``, and where its tasks write their output."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lrsearch.errors import LrsearchError
from lrsearch.slurm._script import ArrayJob, render_script

# sbatch options that move the tasks' output, or change where they run (and so where a relative path points).
_OUTPUT = re.compile(r"^(-o|--output)(=(.*))?$")
_CHDIR = re.compile(r"^(-D|--chdir)(=(.*))?$")


@dataclass
class Submitted:
    job_id: str
    script: str
    task_log: str  # where each task's stdout/stderr go, with %A (job) and %a (task) as SLURM writes them


def task_log_pattern(sbatch_args: list[str], submit_dir: Path) -> str:
    """Where sbatch puts the tasks' output: its default ``slurm-%A_%a.out`` in the working directory of the job,
    or what ``--output`` / ``--chdir`` among ``sbatch_args`` say."""
    output = _option(sbatch_args, _OUTPUT, "-o")
    workdir = Path(_option(sbatch_args, _CHDIR, "-D") or submit_dir)
    path = Path(output or "slurm-%A_%a.out")
    return str(path if path.is_absolute() else workdir / path)


def _option(args: list[str], pattern: re.Pattern[str], short: str) -> str | None:
    value = None
    for i, arg in enumerate(args):
        match = pattern.match(arg)
        if match:
            value = match.group(3) if match.group(2) else (args[i + 1] if i + 1 < len(args) else None)
        elif arg.startswith(short) and len(arg) > len(short) and not arg.startswith("--"):
            value = arg[len(short):]  # -oPATH
    return value


def find_sbatch(sbatch: str = "sbatch") -> str:
    """The sbatch executable, or a :class:`LrsearchError` saying where to run from instead."""
    executable = shutil.which(sbatch)
    if executable is None:
        raise LrsearchError(f"{sbatch!r} is not on PATH: run `lrsearch slurm` on a machine that submits SLURM jobs "
                            "(a login node), or add --dry-run to print the batch script")
    return executable


def submit(job: ArrayJob, sbatch_args: list[str], *, storage: str, sbatch: str = "sbatch",
           cwd: Path | None = None) -> Submitted:
    """Submit ``job`` with ``sbatch --parsable [sbatch_args]``, the script on stdin, the storage URL in the
    environment the tasks inherit. Raises :class:`LrsearchError` when sbatch is missing or refuses the job."""
    executable = find_sbatch(sbatch)
    script = render_script(job)
    env = {**os.environ, "LRSEARCH_STORAGE": storage}
    proc = subprocess.run([executable, "--parsable", *sbatch_args], input=script, capture_output=True, text=True,
                          env=env, cwd=cwd)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip() or f"exit status {proc.returncode}"
        raise LrsearchError(f"sbatch refused the job: {detail}")
    job_id = proc.stdout.strip().split(";")[0]  # --parsable: "JOBID" or "JOBID;CLUSTER"
    if not job_id:
        raise LrsearchError(f"sbatch printed no job id (stdout {proc.stdout!r}, stderr {proc.stderr.strip()!r})")
    return Submitted(job_id=job_id, script=script, task_log=task_log_pattern(sbatch_args, cwd or Path.cwd()))
