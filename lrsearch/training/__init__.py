"""The managed training loop and the TrialContext for users' own loops."""

from lrsearch.training._cache import cached, clear_cache
from lrsearch.training._context import NullRecorder, Recorder, TrainFunction, TrialContext, TrialFailed
from lrsearch.training._loop import batches, evaluate, managed_train, resolve_device, seed_everything
from lrsearch.training._own_loop import option_kwargs, run_train_function

__all__ = [
    "NullRecorder", "Recorder", "batches", "TrainFunction", "TrialContext", "TrialFailed", "cached", "clear_cache",
    "evaluate", "managed_train", "option_kwargs", "resolve_device", "run_train_function", "seed_everything",
]
