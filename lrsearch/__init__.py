"""lrsearch: hyperparameter search for per-parameter-group optimizer settings and schedules."""

from lrsearch.api import load_study, run_study
from lrsearch.config import load_spec
from lrsearch.training import TrialContext
from lrsearch.version import __version__

__all__ = ["TrialContext", "__version__", "load_spec", "load_study", "run_study"]
