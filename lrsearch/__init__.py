"""lrsearch: hyperparameter search for per-parameter-group optimizer settings and schedules."""

__version__ = "0.1.0"

from lrsearch.api import load_study, run_study  # noqa: E402
from lrsearch.config import load_spec  # noqa: E402
from lrsearch.training import TrialContext  # noqa: E402

__all__ = ["TrialContext", "__version__", "load_spec", "load_study", "run_study"]
