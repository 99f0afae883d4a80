"""Results: studies as pandas frames, export, comparing studies, the best trial as YAML or PyTorch, replay and
confirmation runs on the held-out split."""

from lrsearch.results._best import (
    BestTrial,
    best_keras_snippet,
    best_snippet,
    best_trial,
    best_yaml,
    fixed_spec,
)
from lrsearch.results._compare import (
    StudySummary,
    compare_frame,
    compare_studies,
    fmt_confirmed,
    fmt_value,
    format_comparison,
    in_study_order,
    summarize,
    threshold,
)
from lrsearch.results._confirm import confirm_seeds, confirm_top, format_ranking, held_out_metric, top_trials
from lrsearch.results._dtypes import frame_format, read_frame, write_frame
from lrsearch.results._frames import confirm_frame, confirmed_frame, curves_frame, trials_frame
from lrsearch.results._replay import DEFAULT_TOLERANCE, ReplayResult, format_replay, replay_trial
from lrsearch.results._snippet import pytorch_snippet
from lrsearch.results._source import open_readonly

__all__ = [
    "DEFAULT_TOLERANCE", "BestTrial", "ReplayResult", "StudySummary", "best_keras_snippet", "best_snippet", "best_trial", "best_yaml", "compare_frame",
    "compare_studies", "confirm_frame", "confirm_seeds", "confirm_top", "confirmed_frame", "curves_frame",
    "fixed_spec", "fmt_confirmed", "fmt_value", "format_comparison", "frame_format", "format_ranking", "format_replay", "in_study_order", "open_readonly",
    "pytorch_snippet", "read_frame", "replay_trial", "summarize", "held_out_metric", "threshold", "top_trials",
    "trials_frame", "write_frame",
]
