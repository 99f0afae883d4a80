"""The batch script of a worker array: every task runs ``lrsearch worker`` on one stored study.

The script is plain ``sbatch`` input, so anything SLURM offers (partitions, GPUs, time limits, ``--requeue``,
``--signal``) is added as sbatch options on the command line, which win over the ``#SBATCH`` lines here. The
storage URL is not written into it: sbatch passes the submitting environment (``LRSEARCH_STORAGE``) to the tasks,
which keeps a password out of the script and of ``scontrol show job``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

# SLURM job names: keep them readable in squeue, without characters a shell or sbatch would trip over.
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class ArrayJob:
    """What the array job runs: ``tasks`` copies of ``lrsearch worker --study STUDY ...``."""

    study: str
    tasks: int
    python: str  # the interpreter that runs lrsearch on the nodes (the submitting one: a shared filesystem)
    max_running: int | None = None  # at most this many tasks at once (sbatch's --array=0-N%M)
    devices: str = "auto"
    trials_per_device: int = 1
    log_dir: str | None = None  # the per-trial log files; default: lrsearch-logs in the submit directory
    worker_options: list[str] = field(default_factory=list)

    @property
    def job_name(self) -> str:
        return "lrsearch-" + (_UNSAFE.sub("-", self.study).strip("-") or "study")

    @property
    def array(self) -> str:
        spec = f"0-{self.tasks - 1}"
        return spec + (f"%{self.max_running}" if self.max_running else "")

    def worker_command(self) -> list[str]:
        command = [self.python, "-m", "lrsearch", "worker", "--study", self.study, "--devices", self.devices]
        if self.trials_per_device != 1:
            command += ["--trials-per-device", str(self.trials_per_device)]
        if self.log_dir:
            command += ["--log-dir", self.log_dir]
        return command + list(self.worker_options)


def render_script(job: ArrayJob) -> str:
    """The sbatch script of ``job``."""
    command = " ".join(shlex.quote(part) for part in job.worker_command())
    return f"""#!/bin/bash
# Workers of the lrsearch study {job.study!r}, written by `lrsearch slurm`. Each array task runs trials until the
# study's budget is spent. scancel, the time limit and a requeue send SIGTERM: the running trial is failed as
# `interrupted` and queued to run again, so nothing is lost. With --requeue a requeued task joins the study again.
#SBATCH --job-name={job.job_name}
#SBATCH --array={job.array}
#SBATCH --open-mode=append
# (append: a requeued task adds to its slurm-%A_%a.out instead of replacing what it wrote before)

echo "lrsearch: array task ${{SLURM_ARRAY_TASK_ID:-?}} of job ${{SLURM_ARRAY_JOB_ID:-?}} on $(hostname)," \\
     "restart ${{SLURM_RESTART_COUNT:-0}}, study {shlex.quote(job.study)}"
# exec: the worker is the batch step itself, so SLURM's SIGTERM reaches it directly.
exec {command}
"""
