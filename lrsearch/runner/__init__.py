"""Study creation and resume, the run loop, trials in this process and in worker processes."""

from lrsearch.runner._devices import WorkerSlot, plan_workers
from lrsearch.runner._logs import trial_log_path, trial_output
from lrsearch.runner._loop import NoTrial, next_trial, reap_stale
from lrsearch.runner._lost import fail_lost_trial
from lrsearch.runner._progress import Progress
from lrsearch.runner._run import RunSummary, run_here
from lrsearch.runner._study import (
    StudyHandle,
    default_log_dir,
    load_stored_spec,
    open_stored_study,
    open_study,
)
from lrsearch.runner._summary import best_own_trial, describe_config, describe_run, verdict
from lrsearch.runner._trial import FAIL_REASONS, Outcome, classify, make_context, run_trial, train_config

__all__ = [
    "FAIL_REASONS", "NoTrial", "Outcome", "Progress", "RunSummary", "StudyHandle", "WorkerSlot", "classify",
    "default_log_dir", "best_own_trial", "describe_config", "describe_run", "fail_lost_trial", "load_stored_spec",
    "make_context", "next_trial", "open_stored_study", "open_study", "plan_workers", "reap_stale", "run_here",
    "run_trial", "train_config", "trial_log_path", "trial_output", "verdict",
]
