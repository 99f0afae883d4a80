"""Study spec -> Optuna search space with stable names -> concrete :class:`TrialConfig`."""

from lrsearch.space._space import Dimension, SearchSpace, to_distribution
from lrsearch.trial_config import GroupConfig, OptimizerConfig, ScheduleConfig, TrialConfig

__all__ = ["Dimension", "GroupConfig", "OptimizerConfig", "ScheduleConfig", "SearchSpace", "TrialConfig", "to_distribution"]
