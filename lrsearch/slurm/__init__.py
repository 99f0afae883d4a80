"""Running a study's workers on a SLURM cluster as one array job: ``lrsearch slurm``."""

from lrsearch.slurm._script import ArrayJob, render_script
from lrsearch.slurm._submit import Submitted, submit, task_log_pattern

__all__ = ["ArrayJob", "Submitted", "render_script", "submit", "task_log_pattern"]
