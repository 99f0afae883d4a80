"""The managed training loop and the TrialContext for users' own loops."""

from lrsearch.training._context import NullRecorder, Recorder, TrainFunction, TrialContext, TrialFailed
from lrsearch.training._loop import batches, evaluate, managed_train, resolve_device, seed_everything
from lrsearch.training._own_loop import run_train_function

__all__ = [
    "NullRecorder", "Recorder", "batches", "TrainFunction", "TrialContext", "TrialFailed", "evaluate", "managed_train",
    "resolve_device", "run_train_function", "seed_everything",
]
