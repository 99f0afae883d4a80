"""Study creation and resume, the run loop, trials in this process and in worker processes."""

from lrsearch.runner._run import Progress, RunSummary, mark_killed, next_trial, reap_stale, run_here
from lrsearch.runner._study import StudyHandle, default_log_dir, load_stored_spec, open_study
from lrsearch.runner._summary import describe_config, describe_run
from lrsearch.runner._trial import FAIL_REASONS, Outcome, classify, make_context, run_trial, train_config

__all__ = [
    "FAIL_REASONS", "Outcome", "Progress", "RunSummary", "StudyHandle", "classify", "default_log_dir",
    "describe_config", "describe_run", "load_stored_spec", "make_context", "mark_killed", "next_trial",
    "open_study", "reap_stale", "run_here", "run_trial", "train_config",
]
