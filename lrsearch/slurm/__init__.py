"""Running a study's workers on a SLURM cluster as one array job: ``lrsearch slurm``."""

from lrsearch.slurm._script import ArrayJob, render_script
from lrsearch.slurm._submit import Submitted, find_sbatch, submit, task_log_pattern

__all__ = ["ArrayJob", "Submitted", "find_sbatch", "render_script", "submit", "task_log_pattern"]
